// Lead Routing admin console: a small front end over the JSON API.
//
// No build step and no dependency: the server embeds this file. Rules kept
// throughout: untrusted text only ever goes through textContent (never
// innerHTML); tokens live in HttpOnly cookies the script cannot read; every
// state-changing call echoes the CSRF cookie; a screen shows only the actions
// the signed-in role may take.
'use strict';

(() => {
  const ROLE_RANK = { agent: 0, manager: 1, admin: 2, super_admin: 3 };
  const ROLE_LABEL = { agent: 'Agent', manager: 'Manager', admin: 'Admin', super_admin: 'Super admin' };
  const ORG_CONTEXT_KEY = 'lr.orgContext';
  const PAGE = 20;
  const PALETTE = ['#1f4bd8', '#e8590c', '#2b8a3e', '#ae3ec9', '#c92a2a', '#0b7285', '#f08c00', '#5f3dc4', '#495057'];

  const state = { me: null, org: null, orgs: [] };

  // The policy forbids inline script and style; record any violation so that
  // the browser tests can assert there is none.
  document.addEventListener('securitypolicyviolation', (event) => {
    const root = document.documentElement;
    root.dataset.cspViolations = `${root.dataset.cspViolations || ''}${event.violatedDirective} `;
  });
  const app = document.getElementById('app');

  // ---------------------------------------------------------------- DOM
  function h(tag, props, ...children) {
    const el = document.createElement(tag);
    for (const [key, value] of Object.entries(props || {})) {
      if (value === undefined || value === null || value === false) continue;
      if (key === 'class') el.className = value;
      else if (key === 'text') el.textContent = value;
      else if (key === 'value') el.value = value;
      else if (key === 'checked' || key === 'selected' || key === 'disabled') el[key] = Boolean(value);
      else if (key.startsWith('on')) el.addEventListener(key.slice(2), value);
      else el.setAttribute(key, value === true ? '' : String(value));
    }
    add(el, children);
    return el;
  }

  function add(el, children) {
    for (const child of children.flat(Infinity)) {
      if (child === null || child === undefined || child === false) continue;
      el.append(child instanceof Node ? child : document.createTextNode(String(child)));
    }
    return el;
  }

  function svg(tag, attrs, ...children) {
    const el = document.createElementNS('http://www.w3.org/2000/svg', tag);
    for (const [key, value] of Object.entries(attrs || {})) el.setAttribute(key, String(value));
    return add(el, children);
  }

  let uid = 0;
  const nextId = (prefix) => `${prefix}-${++uid}`;

  function fmtDate(value) {
    if (!value) return '—';
    const d = new Date(value);
    return Number.isNaN(d.getTime()) ? value : d.toLocaleString();
  }

  function badge(text, kind) {
    return h('span', { class: `badge badge-${kind || text}` }, text);
  }

  const hasRole = (role) => state.me && ROLE_RANK[state.me.role] >= ROLE_RANK[role];

  // ---------------------------------------------------------------- API
  class ApiError extends Error {
    constructor(status, body) {
      super((body && body.error && body.error.message) || `The server answered ${status}`);
      this.status = status;
      this.code = body && body.error ? body.error.code : 'HTTP_ERROR';
      this.details = (body && body.error && body.error.details) || [];
    }
  }

  function readCookie(name) {
    const entry = document.cookie.split('; ').find((c) => c.startsWith(`${name}=`));
    return entry ? decodeURIComponent(entry.slice(name.length + 1)) : '';
  }

  function orgContext() {
    return state.me && state.me.role === 'super_admin' ? sessionStorage.getItem(ORG_CONTEXT_KEY) : null;
  }

  let refreshing = null;
  function refreshSession() {
    if (!refreshing) {
      refreshing = fetch('/admin/session/refresh', {
        method: 'POST',
        headers: { 'x-csrf-token': readCookie('lr_csrf') },
        credentials: 'same-origin',
      })
        .then((res) => res.ok)
        .catch(() => false)
        .finally(() => { refreshing = null; });
    }
    return refreshing;
  }

  async function request(method, path, body, options) {
    const opts = { retry: true, scoped: true, ...options };
    const headers = { accept: 'application/json' };
    if (body !== undefined) headers['content-type'] = 'application/json';
    if (method !== 'GET') headers['x-csrf-token'] = readCookie('lr_csrf');
    const context = opts.scoped ? orgContext() : null;
    if (context) headers['x-org-id'] = context;
    const res = await fetch(path, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      credentials: 'same-origin',
      cache: 'no-store',
    });
    let json = null;
    try { json = await res.json(); } catch (_) { json = null; }
    if (res.status === 401 && opts.retry && !path.startsWith('/admin/session')) {
      if (await refreshSession()) return request(method, path, body, { ...opts, retry: false });
      sessionEnded();
      throw new ApiError(401, json);
    }
    if (!res.ok || (json && json.ok === false)) throw new ApiError(res.status, json);
    return json;
  }

  const api = {
    get: (path, options) => request('GET', path, undefined, options),
    post: (path, body, options) => request('POST', path, body === undefined ? {} : body, options),
    put: (path, body, options) => request('PUT', path, body, options),
    del: (path, options) => request('DELETE', path, undefined, options),
  };

  function query(params) {
    const q = new URLSearchParams();
    for (const [k, v] of Object.entries(params)) if (v !== '' && v !== undefined && v !== null) q.set(k, v);
    const s = q.toString();
    return s ? `?${s}` : '';
  }

  // Every page of a list (for pickers: agents, pools, users).
  async function all(path) {
    const rows = [];
    for (let offset = 0; ; offset += 1000) {
      const sep = path.includes('?') ? '&' : '?';
      const page = await api.get(`${path}${sep}limit=1000&offset=${offset}`);
      rows.push(...page.data);
      if (rows.length >= page.pagination.total || page.data.length === 0) return rows;
    }
  }

  // ---------------------------------------------------------------- feedback
  function flash(message, kind) {
    const region = document.getElementById('flash');
    if (!region) return;
    region.replaceChildren(h('p', { class: `notice notice-${kind || 'ok'}` }, message));
  }

  function errorBox(error) {
    const message = error instanceof ApiError ? error.message : `Something went wrong: ${error.message}`;
    return h('p', { class: 'notice notice-error', role: 'alert' }, message);
  }

  async function guard(target, work) {
    try {
      await work();
    } catch (error) {
      if (error instanceof ApiError && error.status === 401) return;
      target.replaceChildren(errorBox(error));
    }
  }

  function confirmDialog(title, message, confirmLabel, typed) {
    return new Promise((resolve) => {
      const inputId = nextId('confirm');
      const input = typed ? h('input', { id: inputId, type: 'text', autocomplete: 'off', spellcheck: 'false' }) : null;
      const ok = h('button', { type: 'submit', class: 'danger', value: 'ok', disabled: Boolean(typed) }, confirmLabel);
      if (input) input.addEventListener('input', () => { ok.disabled = input.value !== typed; });
      const dialog = h('dialog', { 'aria-labelledby': `${inputId}-title`, class: 'confirm' },
        h('form', { method: 'dialog' },
          h('h2', { id: `${inputId}-title` }, title),
          h('p', {}, message),
          typed ? [h('label', { for: inputId }, `Type ${typed} to confirm`), input] : null,
          h('div', { class: 'actions' },
            h('button', { type: 'button', class: 'secondary', onclick: () => dialog.close('cancel') }, 'Cancel'),
            ok)));
      dialog.addEventListener('close', () => {
        // Escape closes without a return value: only the button confirms.
        const confirmed = dialog.returnValue === 'ok' && (!typed || input.value === typed);
        dialog.remove();
        resolve(confirmed);
      });
      document.body.append(dialog);
      dialog.showModal();
      (input || ok).focus();
    });
  }

  // ---------------------------------------------------------------- forms
  // fields: {name, label, type, options, value, required, hint, autocomplete}
  function field(spec) {
    const id = nextId(`f-${spec.name}`);
    const errorId = `${id}-error`;
    const hintId = spec.hint ? `${id}-hint` : null;
    const described = [hintId, errorId].filter(Boolean).join(' ');
    let control;
    if (spec.type === 'select') {
      control = h('select', { id, name: spec.name, 'aria-describedby': described },
        spec.options.map(([value, label]) => h('option', { value, selected: String(spec.value ?? '') === value }, label)));
    } else if (spec.type === 'checkbox') {
      control = h('input', { id, name: spec.name, type: 'checkbox', checked: Boolean(spec.value), 'aria-describedby': described });
    } else if (spec.type === 'checkboxes') {
      control = h('fieldset', { id, class: 'checks', 'aria-describedby': described },
        h('legend', {}, spec.label),
        spec.options.length === 0 ? h('p', { class: 'muted' }, spec.empty || 'Nothing to choose from yet.') : null,
        spec.options.map(([value, label]) => {
          const cid = nextId('c');
          return h('label', { for: cid, class: 'check' },
            h('input', { id: cid, type: 'checkbox', name: spec.name, value, checked: (spec.value || []).includes(value) }), label);
        }));
    } else {
      control = h('input', {
        id, name: spec.name, type: spec.type || 'text', value: spec.value ?? '',
        required: spec.required, autocomplete: spec.autocomplete || 'off',
        min: spec.min, max: spec.max, placeholder: spec.placeholder, 'aria-describedby': described,
      });
    }
    const wrapper = h('div', { class: `field field-${spec.type || 'text'}`, 'data-field': spec.name },
      spec.type === 'checkboxes' ? null : h('label', { for: id }, spec.label, spec.required ? h('span', { class: 'req', 'aria-hidden': 'true' }, ' *') : null),
      control,
      hintId ? h('p', { class: 'hint', id: hintId }, spec.hint) : null,
      h('p', { class: 'field-error', id: errorId, 'data-error-for': spec.name, hidden: true }));
    if (spec.type === 'checkbox') wrapper.classList.add('inline');
    return wrapper;
  }

  function formValues(form, specs) {
    const values = {};
    for (const spec of specs) {
      if (spec.type === 'checkboxes') {
        values[spec.name] = [...form.querySelectorAll(`input[name="${spec.name}"]:checked`)].map((i) => i.value);
        continue;
      }
      const el = form.elements.namedItem(spec.name);
      if (!el) continue;
      if (spec.type === 'checkbox') values[spec.name] = el.checked;
      else if (spec.type === 'number') values[spec.name] = el.value.trim() === '' ? null : Number(el.value);
      else values[spec.name] = el.value.trim();
    }
    return values;
  }

  function clearErrors(form) {
    for (const p of form.querySelectorAll('.field-error')) { p.hidden = true; p.textContent = ''; }
    for (const el of form.querySelectorAll('[aria-invalid]')) el.removeAttribute('aria-invalid');
    const summary = form.querySelector('.form-error');
    if (summary) summary.replaceChildren();
  }

  // Puts each field error beside its field; the rest above the buttons.
  function showErrors(form, error) {
    const summary = form.querySelector('.form-error');
    const leftovers = [];
    const details = error instanceof ApiError ? error.details : [];
    for (const detail of details) {
      const root = detail.field.split('.')[0];
      const slot = form.querySelector(`[data-error-for="${CSS.escape(detail.field)}"]`)
        || form.querySelector(`[data-error-for="${CSS.escape(root)}"]`);
      if (slot) {
        slot.hidden = false;
        slot.textContent = slot.textContent ? `${slot.textContent}; ${detail.message}` : detail.message;
        const control = slot.parentElement.querySelector('input, select, fieldset');
        if (control) control.setAttribute('aria-invalid', 'true');
      } else {
        leftovers.push(`${detail.field}: ${detail.message}`);
      }
    }
    if (details.length === 0 || leftovers.length > 0) {
      summary.replaceChildren(h('p', { class: 'notice notice-error', role: 'alert' },
        details.length === 0 ? error.message : `${error.message}: ${leftovers.join('; ')}`));
    }
    const first = form.querySelector('[aria-invalid="true"]');
    if (first) first.focus();
  }

  function makeForm(specs, onSubmit, submitLabel, extra) {
    const form = h('form', { class: 'form', novalidate: true, ...(extra && extra.attrs) },
      extra && extra.title ? h('h3', {}, extra.title) : null,
      h('div', { class: 'fields' }, specs.map(field)),
      extra && extra.after,
      h('div', { class: 'form-error' }),
      h('div', { class: 'actions' },
        extra && extra.cancel ? h('button', { type: 'button', class: 'secondary', onclick: extra.cancel }, 'Cancel') : null,
        h('button', { type: 'submit' }, submitLabel)));
    form.addEventListener('submit', async (event) => {
      event.preventDefault();
      clearErrors(form);
      const button = form.querySelector('button[type="submit"]');
      button.disabled = true;
      try {
        await onSubmit(formValues(form, specs), form);
      } catch (error) {
        if (!(error instanceof ApiError && error.status === 401)) showErrors(form, error);
      } finally {
        button.disabled = false;
      }
    });
    return form;
  }

  const blankToNull = (v) => (v === '' ? null : v);
  const csv = (v) => v.split(',').map((s) => s.trim()).filter(Boolean);

  function table(headers, rows, emptyText) {
    if (rows.length === 0) return h('p', { class: 'muted empty' }, emptyText || 'Nothing here yet.');
    return h('div', { class: 'table-wrap' },
      h('table', {},
        h('thead', {}, h('tr', {}, headers.map((t) => h('th', { scope: 'col' }, t)))),
        h('tbody', {}, rows)));
  }

  function pager(page, onMove) {
    const { total, limit, offset } = page.pagination;
    const from = total === 0 ? 0 : offset + 1;
    const to = Math.min(offset + limit, total);
    return h('nav', { class: 'pager', 'aria-label': 'Pages' },
      h('span', {}, `${from}–${to} of ${total}`),
      offset > 0 ? h('button', { type: 'button', class: 'secondary', onclick: () => onMove(Math.max(0, offset - limit)) }, 'Previous') : null,
      offset + limit < total ? h('button', { type: 'button', class: 'secondary', onclick: () => onMove(offset + limit) }, 'Next') : null);
  }

  // ---------------------------------------------------------------- session
  function sessionEnded() {
    if (!state.me) return;
    state.me = null;
    renderLogin('Your session has ended. Please sign in again.');
  }

  function renderLogin(message) {
    document.title = 'Sign in · Lead Routing';
    const specs = [
      { name: 'email', label: 'E-mail', type: 'email', required: true, autocomplete: 'username' },
      { name: 'password', label: 'Password', type: 'password', required: true, autocomplete: 'current-password' },
      { name: 'orgId', label: 'Organization ID', hint: 'Only needed when your e-mail belongs to several organizations.' },
    ];
    const form = makeForm(specs, async (v) => {
      const body = { email: v.email, password: v.password };
      if (v.orgId) body.orgId = v.orgId;
      const res = await request('POST', '/admin/session', body, { retry: false, scoped: false });
      state.me = res.data.user;
      sessionStorage.removeItem(ORG_CONTEXT_KEY);
      await startConsole();
    }, 'Sign in', { attrs: { 'aria-labelledby': 'login-title', id: 'login-form' } });
    app.replaceChildren(
      h('main', { id: 'main', class: 'login' },
        h('div', { class: 'login-card' },
          h('h1', { id: 'login-title' }, 'Lead Routing'),
          h('p', { class: 'muted' }, 'Sign in to the admin console.'),
          message ? h('p', { class: 'notice notice-warn', role: 'status' }, message) : null,
          form)));
    form.querySelector('input').focus();
  }

  async function signOut() {
    try { await request('DELETE', '/admin/session', undefined, { retry: false, scoped: false }); } catch (_) { /* the cookies are cleared either way */ }
    state.me = null;
    sessionStorage.removeItem(ORG_CONTEXT_KEY);
    window.location.hash = '';
    renderLogin('You have signed out.');
  }

  async function loadOrgContext() {
    const context = orgContext();
    try {
      state.org = (await api.get(`/organizations/${encodeURIComponent(context || state.me.orgId)}`, { scoped: false })).data;
    } catch (error) {
      if (context) {
        sessionStorage.removeItem(ORG_CONTEXT_KEY);
        state.org = (await api.get(`/organizations/${encodeURIComponent(state.me.orgId)}`, { scoped: false })).data;
      } else {
        throw error;
      }
    }
    if (state.me.role === 'super_admin') {
      state.orgs = (await api.get('/organizations?limit=1000', { scoped: false })).data;
    }
  }

  async function switchOrg(orgId) {
    if (orgId === state.me.orgId) sessionStorage.removeItem(ORG_CONTEXT_KEY);
    else sessionStorage.setItem(ORG_CONTEXT_KEY, orgId);
    await loadOrgContext();
    renderShell();
    route();
    flash(`Now working in ${state.org.displayName || state.org.name}.`);
  }

  // ---------------------------------------------------------------- shell
  const SCREENS = [
    { path: 'dashboard', label: 'Dashboard', role: 'agent', render: renderDashboard },
    { path: 'leads', label: 'Leads', role: 'agent', render: renderLeads },
    { path: 'proposals', label: 'Proposals', role: 'manager', render: renderProposals },
    { path: 'agents', label: 'Agents', role: 'manager', render: renderAgents },
    { path: 'routing', label: 'Pools & rules', role: 'manager', render: renderRouting },
    { path: 'users', label: 'Users', role: 'admin', render: renderUsers },
    { path: 'api-keys', label: 'API keys', role: 'admin', render: renderApiKeys },
    { path: 'settings', label: 'Settings', role: 'admin', render: renderSettings },
    { path: 'organizations', label: 'Organizations', role: 'super_admin', render: renderOrganizations },
  ];

  function orgSwitcher() {
    if (state.me.role !== 'super_admin') {
      return h('span', { class: 'org-name' }, state.org.displayName || state.org.name);
    }
    const id = 'org-switcher';
    const select = h('select', { id, name: 'org' },
      state.orgs.map((o) => h('option', { value: o.id, selected: o.id === state.org.id },
        `${o.displayName || o.name}${o.isActive ? '' : ' (inactive)'}`)));
    const form = h('form', { class: 'switcher', onsubmit: (e) => { e.preventDefault(); switchOrg(select.value); } },
      h('label', { for: id }, 'Organization'), select, h('button', { type: 'submit', class: 'secondary' }, 'Switch'));
    return form;
  }

  function renderShell() {
    const me = state.me;
    const nav = h('nav', { class: 'side', 'aria-label': 'Main' },
      h('ul', {}, SCREENS.filter((s) => hasRole(s.role)).map((s) =>
        h('li', {}, h('a', { href: `#/${s.path}`, 'data-screen': s.path }, s.path === 'leads' && me.role === 'agent' ? 'My leads' : s.label)))));
    app.replaceChildren(
      h('header', { class: 'top' },
        h('a', { class: 'brand', href: '#/dashboard' }, h('img', { src: '/admin/assets/icon.svg', alt: '', width: 24, height: 24 }), 'Lead Routing'),
        orgSwitcher(),
        h('div', { class: 'who' },
          h('span', { class: 'user', 'data-testid': 'whoami' }, `${me.username} · ${ROLE_LABEL[me.role]}`),
          h('button', { type: 'button', class: 'secondary', id: 'sign-out', onclick: signOut }, 'Sign out'))),
      h('div', { class: 'shell' },
        nav,
        h('main', { id: 'main', tabindex: '-1' },
          h('div', { id: 'flash', role: 'status', 'aria-live': 'polite' }),
          h('div', { id: 'screen' }))));
  }

  function route() {
    if (!state.me) return;
    const flashRegion = document.getElementById('flash');
    if (flashRegion) flashRegion.replaceChildren();
    const [name, ...params] = window.location.hash.replace(/^#\/?/, '').split('/').filter(Boolean).map(decodeURIComponent);
    const screen = SCREENS.find((s) => s.path === (name || 'dashboard'));
    for (const link of document.querySelectorAll('nav.side a')) {
      if (link.dataset.screen === (screen && screen.path)) link.setAttribute('aria-current', 'page');
      else link.removeAttribute('aria-current');
    }
    const host = document.getElementById('screen');
    if (!host) return;
    // A fresh container per navigation: a slower render of the previous
    // screen finishes into a detached element instead of over this one.
    const target = h('div', { class: 'screen-body' });
    host.replaceChildren(target);
    if (!screen || !hasRole(screen.role)) {
      target.replaceChildren(h('h1', {}, 'Not found'), h('p', {}, 'There is no such page for your role.'));
      return;
    }
    document.title = `${screen.label} · Lead Routing`;
    target.replaceChildren(h('p', { class: 'muted', 'aria-busy': 'true' }, 'Loading…'));
    guard(target, () => screen.render(target, params));
  }

  async function startConsole() {
    await loadOrgContext();
    renderShell();
    route();
  }

  // Navigates without a hashchange event, so that a flash set right after
  // survives the new screen.
  function go(hash) {
    if (window.location.hash !== hash) window.history.pushState(null, '', hash);
    route();
  }

  // ---------------------------------------------------------------- dashboard
  async function renderDashboard(target) {
    const [dash, activity] = await Promise.all([
      api.get('/dashboard'),
      api.get('/dashboard/leads-per-agent?days=7').catch((e) => e),
    ]);
    const s = dash.stats;
    const ratio = (v) => (v === null || v === undefined ? '—' : v.toFixed(2));
    const card = (label, value) => h('div', { class: 'stat' }, h('span', { class: 'stat-value' }, String(value)), h('span', { class: 'stat-label' }, label));
    target.replaceChildren(
      h('h1', {}, `Dashboard · ${dash.organization.displayName || dash.organization.name}`),
      h('section', { class: 'stats', 'aria-label': 'Counts' },
        card('Leads', s.totalLeads), card('Proposals', s.totalProposals), card('Agents', s.totalAgents), card('Users', s.totalUsers),
        card('Proposals per lead', ratio(dash.health.proposalsPerLead)), card('Users per agent', ratio(dash.health.usersPerAgent))),
      h('section', { class: 'panel', 'aria-labelledby': 'chart-title' },
        h('h2', { id: 'chart-title' }, 'Leads per agent, last 7 days'),
        activity instanceof Error ? errorBox(activity) : leadsChart(activity.data)));
  }

  function leadsChart(data) {
    const series = data.agents.map((a, i) => ({ label: a.name, counts: a.counts, color: PALETTE[i % (PALETTE.length - 1)] }));
    if (data.unassigned && data.unassigned.some((n) => n > 0)) {
      series.push({ label: 'Unassigned', counts: data.unassigned, color: PALETTE[PALETTE.length - 1] });
    }
    const days = data.days;
    const totals = days.map((_, i) => series.reduce((sum, s) => sum + s.counts[i], 0));
    const max = Math.max(1, ...totals);
    const W = 960; const H = 250; const left = 36; const bottom = 28; const top = 12;
    const plotH = H - bottom - top;
    const slot = (W - left) / days.length;
    const barW = Math.min(56, slot * 0.6);
    const ticks = [...new Set([0, Math.ceil(max / 2), max])];
    const chart = svg('svg', { viewBox: `0 0 ${W} ${H}`, class: 'chart', role: 'img', 'aria-labelledby': 'chart-title chart-desc' },
      svg('desc', { id: 'chart-desc' }, `Stacked bars of leads per day for ${series.length} agents; the table below has the numbers.`),
      ticks.map((t) => {
        const y = top + plotH - (t / max) * plotH;
        return [svg('line', { x1: left, x2: W, y1: y, y2: y, class: 'grid' }),
          svg('text', { x: left - 6, y: y + 4, 'text-anchor': 'end', class: 'axis' }, t)];
      }),
      days.map((day, i) => {
        const x = left + i * slot + (slot - barW) / 2;
        let y = top + plotH;
        const parts = series.map((s) => {
          const hgt = (s.counts[i] / max) * plotH;
          y -= hgt;
          return hgt > 0 ? svg('rect', { x, y, width: barW, height: hgt, fill: s.color },
            svg('title', {}, `${s.label}: ${s.counts[i]} on ${day}`)) : null;
        });
        return [parts,
          svg('text', { x: x + barW / 2, y: H - 8, 'text-anchor': 'middle', class: 'axis' }, day.slice(5)),
          totals[i] > 0 ? svg('text', { x: x + barW / 2, y: top + plotH - (totals[i] / max) * plotH - 4, 'text-anchor': 'middle', class: 'axis' }, totals[i]) : null];
      }));
    const legend = h('ul', { class: 'legend' }, series.map((s) =>
      h('li', {}, svg('svg', { width: 12, height: 12, 'aria-hidden': 'true' }, svg('rect', { width: 12, height: 12, fill: s.color })), ` ${s.label}`)));
    const rows = series.map((s) => h('tr', {}, h('th', { scope: 'row' }, s.label), s.counts.map((n) => h('td', { class: 'num' }, n)),
      h('td', { class: 'num' }, s.counts.reduce((a, b) => a + b, 0))));
    const numbers = h('details', {}, h('summary', {}, 'Show the numbers'),
      table(['Agent', ...days.map((d) => d.slice(5)), 'Total'], rows, 'No leads in these days.'));
    return h('div', { class: 'chart-wrap' }, series.length === 0 ? h('p', { class: 'muted' }, 'No agents yet.') : [chart, legend], numbers);
  }

  // ---------------------------------------------------------------- organizations
  const orgFilter = { isActive: '', tier: '', offset: 0 };
  const TIERS = [['free', 'Free'], ['standard', 'Standard'], ['enterprise', 'Enterprise']];

  async function renderOrganizations(target, params) {
    if (params[0] === 'new') return renderOrgForm(target, null);
    if (params[0]) return renderOrgForm(target, (await api.get(`/organizations/${encodeURIComponent(params[0])}`, { scoped: false })).data);
    const page = await api.get(`/organizations${query({ isActive: orgFilter.isActive, tier: orgFilter.tier, limit: PAGE, offset: orgFilter.offset })}`, { scoped: false });
    const filters = h('form', { class: 'filters', 'aria-label': 'Filters', onchange: (e) => {
      orgFilter[e.target.name] = e.target.value; orgFilter.offset = 0; route();
    }, onsubmit: (e) => e.preventDefault() },
      field({ name: 'isActive', label: 'Status', type: 'select', value: orgFilter.isActive, options: [['', 'All'], ['true', 'Active'], ['false', 'Inactive']] }),
      field({ name: 'tier', label: 'Tier', type: 'select', value: orgFilter.tier, options: [['', 'All'], ...TIERS] }));
    const rows = page.data.map((o) => h('tr', { 'data-org': o.name },
      h('td', {}, h('a', { href: `#/organizations/${encodeURIComponent(o.id)}` }, o.name)),
      h('td', {}, o.displayName || '—'),
      h('td', {}, o.tier),
      h('td', {}, o.isActive ? badge('active') : badge('inactive')),
      h('td', {}, fmtDate(o.createdAt)),
      h('td', { class: 'row-actions' },
        o.isActive ? h('button', { type: 'button', class: 'secondary', onclick: () => switchOrg(o.id) }, 'Switch to') : null,
        o.id === state.me.orgId ? null : [
          o.isActive
            ? h('button', { type: 'button', class: 'secondary', onclick: () => orgLifecycle(o, 'deactivate') }, 'Deactivate')
            : h('button', { type: 'button', class: 'secondary', onclick: () => orgLifecycle(o, 'activate') }, 'Activate'),
          h('button', { type: 'button', class: 'danger', onclick: () => orgLifecycle(o, 'delete') }, 'Delete…')])));
    target.replaceChildren(
      h('div', { class: 'title-row' }, h('h1', {}, 'Organizations'),
        h('a', { class: 'button', href: '#/organizations/new' }, 'New organization')),
      filters,
      table(['Name', 'Display name', 'Tier', 'Status', 'Created', 'Actions'], rows, 'No organization matches.'),
      pager(page, (offset) => { orgFilter.offset = offset; route(); }));
  }

  async function orgLifecycle(org, action) {
    let done;
    try {
      if (action === 'deactivate') {
        if (!(await confirmDialog('Deactivate organization', `${org.name} and its users and keys stop working until it is activated again.`, 'Deactivate'))) return;
        await api.del(`/organizations/${encodeURIComponent(org.id)}`, { scoped: false });
        done = `${org.name} is deactivated.`;
      } else if (action === 'activate') {
        await api.post(`/organizations/${encodeURIComponent(org.id)}/activate`, {}, { scoped: false });
        done = `${org.name} is active again.`;
      } else {
        if (!(await confirmDialog('Delete organization for good', `This deletes ${org.name} with all its users, keys, agents, leads and proposals. It cannot be undone.`, 'Delete for good', org.name))) return;
        await api.del(`/organizations/${encodeURIComponent(org.id)}?hard=true`, { scoped: false });
        if (orgContext() === org.id) sessionStorage.removeItem(ORG_CONTEXT_KEY);
        done = `${org.name} is deleted.`;
      }
      // The switcher lists organizations: redraw the shell, then say what happened.
      await loadOrgContext();
      renderShell();
      route();
      flash(done);
    } catch (error) {
      flash(error.message, 'error');
    }
  }

  function renderOrgForm(target, org) {
    const specs = [
      { name: 'name', label: 'Name', required: true, value: org && org.name, hint: 'Lower-case letters, digits and dashes, like acme-sales.' },
      { name: 'displayName', label: 'Display name', value: org && org.displayName },
      { name: 'email', label: 'Contact e-mail', type: 'email', value: org && org.email },
      { name: 'phone', label: 'Phone', type: 'tel', value: org && org.phone },
      { name: 'tier', label: 'Tier', type: 'select', value: (org && org.tier) || 'free', options: TIERS },
    ];
    const form = makeForm(specs, async (v) => {
      if (org) {
        const res = await api.put(`/organizations/${encodeURIComponent(org.id)}`, {
          name: v.name, displayName: blankToNull(v.displayName), email: blankToNull(v.email), phone: blankToNull(v.phone), tier: v.tier,
        }, { scoped: false });
        go('#/organizations');
        flash(`${res.data.name} is saved.`);
      } else {
        const body = { name: v.name, tier: v.tier };
        for (const k of ['displayName', 'email', 'phone']) if (v[k]) body[k] = v[k];
        const res = await api.post('/organizations', body, { scoped: false });
        await loadOrgContext();
        renderShell();
        go('#/organizations');
        flash(`${res.data.name} is created.`);
      }
    }, org ? 'Save' : 'Create organization', { attrs: { id: 'org-form' }, cancel: () => go('#/organizations') });
    target.replaceChildren(h('h1', {}, org ? `Edit ${org.name}` : 'New organization'), form);
    form.querySelector('input').focus();
  }

  // ---------------------------------------------------------------- users
  const ASSIGNABLE_ROLES = [['agent', 'Agent'], ['manager', 'Manager'], ['admin', 'Admin']];

  async function renderUsers(target) {
    const users = await all('/users');
    const rows = users.map((u) => {
      const self = u.id === state.me.id;
      const roleId = nextId('role');
      const roleForm = self || u.role === 'super_admin' ? ROLE_LABEL[u.role] : h('form', { class: 'inline-form', onsubmit: async (e) => {
        e.preventDefault();
        try {
          await api.put(`/users/${encodeURIComponent(u.id)}`, { role: e.target.elements.role.value });
          flash(`${u.username} is now ${ROLE_LABEL[e.target.elements.role.value]}.`);
          route();
        } catch (error) { flash(error.message, 'error'); }
      } },
        h('label', { for: roleId, class: 'visually-hidden' }, `Role of ${u.username}`),
        h('select', { id: roleId, name: 'role' }, ASSIGNABLE_ROLES.map(([v, l]) => h('option', { value: v, selected: v === u.role }, l))),
        h('button', { type: 'submit', class: 'secondary' }, 'Change'));
      return h('tr', { 'data-user': u.username },
        h('td', {}, u.username), h('td', {}, u.email), h('td', {}, roleForm),
        h('td', {}, u.isActive ? badge('active') : badge('inactive')),
        h('td', {}, fmtDate(u.lastLoginAt)),
        h('td', { class: 'row-actions' }, self ? null : u.isActive
          ? h('button', { type: 'button', class: 'secondary', onclick: () => userActive(u, false) }, 'Deactivate')
          : h('button', { type: 'button', class: 'secondary', onclick: () => userActive(u, true) }, 'Activate')));
    });
    const specs = [
      { name: 'username', label: 'Username', required: true },
      { name: 'email', label: 'E-mail', type: 'email', required: true },
      { name: 'password', label: 'Initial password', type: 'password', required: true, autocomplete: 'new-password', hint: 'At least 10 characters; share it with the person over a safe channel.' },
      { name: 'role', label: 'Role', type: 'select', value: 'agent', options: ASSIGNABLE_ROLES },
    ];
    const form = makeForm(specs, async (v) => {
      const res = await api.post('/users', v);
      route();
      flash(`${res.data.username} can now sign in as ${ROLE_LABEL[res.data.role]}.`);
    }, 'Add user', { title: 'Add a user', attrs: { id: 'user-form', class: 'form panel' } });
    target.replaceChildren(h('h1', {}, 'Users'),
      table(['Username', 'E-mail', 'Role', 'Status', 'Last sign-in', 'Actions'], rows), form);
  }

  async function userActive(user, active) {
    try {
      if (active) await api.put(`/users/${encodeURIComponent(user.id)}`, { isActive: true });
      else {
        if (!(await confirmDialog('Deactivate user', `${user.username} is signed out everywhere and cannot sign in until activated again.`, 'Deactivate'))) return;
        await api.del(`/users/${encodeURIComponent(user.id)}`);
      }
      route();
      flash(`${user.username} is ${active ? 'active' : 'deactivated'}.`);
    } catch (error) { flash(error.message, 'error'); }
  }

  // ---------------------------------------------------------------- API keys
  function secretBox(key, title) {
    const id = nextId('secret');
    const copy = h('button', { type: 'button', onclick: async () => {
      try { await navigator.clipboard.writeText(key); copy.textContent = 'Copied'; } catch (_) {
        const code = document.getElementById(id);
        const range = document.createRange(); range.selectNodeContents(code);
        window.getSelection().removeAllRanges(); window.getSelection().addRange(range);
        copy.textContent = 'Selected: press Ctrl+C';
      }
    } }, 'Copy');
    return h('div', { class: 'secret panel', role: 'region', 'aria-label': 'New API key' },
      h('h3', {}, title), h('p', {}, 'Copy it now: it is shown only once and cannot be recovered.'),
      h('div', { class: 'secret-row' }, h('code', { id, 'data-testid': 'new-key' }, key), copy));
  }

  async function renderApiKeys(target) {
    const keys = await all('/api-keys');
    const shown = h('div', { id: 'secret-slot' });
    const rows = keys.map((k) => h('tr', { 'data-key': k.name },
      h('td', {}, k.name), h('td', {}, h('code', {}, `lr_${k.prefix}_…`)), h('td', {}, ROLE_LABEL[k.role]),
      h('td', {}, fmtDate(k.createdAt)), h('td', {}, fmtDate(k.lastUsedAt)),
      h('td', {}, k.revokedAt ? badge('revoked') : badge('active')),
      h('td', { class: 'row-actions' }, k.revokedAt ? null : [
        h('button', { type: 'button', class: 'secondary', onclick: async () => {
          if (!(await confirmDialog('Rotate key', `The current secret of ${k.name} stops working now.`, 'Rotate'))) return;
          try {
            const res = await api.post(`/api-keys/${encodeURIComponent(k.id)}/rotate`, {});
            await renderApiKeys(target);
            document.getElementById('secret-slot').replaceChildren(secretBox(res.data.key, `New secret for ${k.name}`));
          } catch (error) { flash(error.message, 'error'); }
        } }, 'Rotate'),
        h('button', { type: 'button', class: 'danger', onclick: async () => {
          if (!(await confirmDialog('Revoke key', `Clients using ${k.name} are refused from now on.`, 'Revoke'))) return;
          try { await api.del(`/api-keys/${encodeURIComponent(k.id)}`); route(); flash(`${k.name} is revoked.`); } catch (error) { flash(error.message, 'error'); }
        } }, 'Revoke')])));
    const specs = [
      { name: 'name', label: 'Name', required: true, hint: 'What uses it, e.g. "web form".' },
      { name: 'role', label: 'Role', type: 'select', value: 'agent', options: ASSIGNABLE_ROLES },
    ];
    const form = makeForm(specs, async (v) => {
      const res = await api.post('/api-keys', v);
      await renderApiKeys(target);
      document.getElementById('secret-slot').replaceChildren(secretBox(res.data.key, `API key ${res.data.name} created`));
    }, 'Create key', { title: 'Create an API key', attrs: { id: 'key-form', class: 'form panel' } });
    target.replaceChildren(h('h1', {}, 'API keys'), shown,
      table(['Name', 'Key', 'Role', 'Created', 'Last used', 'Status', 'Actions'], rows, 'No API keys yet.'), form);
  }

  // ---------------------------------------------------------------- settings
  async function renderSettings(target) {
    const [org, pools, agents] = await Promise.all([
      api.get(`/organizations/${encodeURIComponent(state.org.id)}`, { scoped: false }).then((r) => r.data),
      all('/routing/pools'), all('/agents?isActive=true'),
    ]);
    const s = org.settings || {};
    const specs = [
      { name: 'allowAutoRouting', label: 'Approve proposals automatically (no manager review)', type: 'checkbox', value: s.allowAutoRouting },
      { name: 'defaultPoolId', label: 'Default pool', type: 'select', value: s.defaultPoolId || '', hint: 'Where leads go when no rule matches.',
        options: [['', 'None: leads no rule matches stay unrouted'], ...pools.map((p) => [p.id, p.name])] },
      { name: 'fallbackAgentId', label: 'Fallback agent', type: 'select', value: s.fallbackAgentId || '', hint: 'Gets the lead when every agent of the pool is unavailable.',
        options: [['', 'None'], ...agents.map((a) => [a.id, a.name])] },
      { name: 'stickyByDomain', label: 'Send leads of a known e-mail domain to the same agent', type: 'checkbox', value: s.stickyByDomain },
    ];
    const form = makeForm(specs, async (v) => {
      const settings = {
        allowAutoRouting: v.allowAutoRouting, stickyByDomain: v.stickyByDomain,
        defaultPoolId: blankToNull(v.defaultPoolId), fallbackAgentId: blankToNull(v.fallbackAgentId),
      };
      const res = await api.put(`/organizations/${encodeURIComponent(org.id)}`, { settings }, { scoped: false });
      state.org = res.data;
      flash('Settings saved.');
    }, 'Save settings', { attrs: { id: 'settings-form', class: 'form panel' } });
    target.replaceChildren(h('h1', {}, `Settings · ${org.displayName || org.name}`),
      h('p', { class: 'muted' }, `Organization ID: ${org.id}`), form);
  }

  // ---------------------------------------------------------------- proposals
  const proposalFilter = { status: '', offset: 0 };

  async function renderProposals(target, params) {
    const agents = await all('/agents');
    const agentName = new Map(agents.map((a) => [a.id, a.name]));
    if (params[0]) {
      const proposal = (await api.get(`/manager/proposals/${encodeURIComponent(params[0])}`)).data;
      const lead = await api.get(`/leads/${encodeURIComponent(proposal.leadId)}`).then((r) => r.data.lead).catch(() => null);
      target.replaceChildren(h('p', {}, h('a', { href: '#/proposals' }, '← All proposals')), proposalCard(proposal, lead, agentName, agents));
      return;
    }
    const page = await api.get(`/manager/proposals${query({ status: proposalFilter.status, limit: PAGE, offset: proposalFilter.offset })}`);
    const leads = await Promise.all(page.data.map((p) => api.get(`/leads/${encodeURIComponent(p.leadId)}`).then((r) => r.data.lead).catch(() => null)));
    const filters = h('form', { class: 'filters', 'aria-label': 'Filters', onsubmit: (e) => e.preventDefault(), onchange: (e) => {
      proposalFilter.status = e.target.value; proposalFilter.offset = 0; route();
    } }, field({ name: 'status', label: 'Status', type: 'select', value: proposalFilter.status,
      options: [['', 'All (pending first)'], ['pending', 'Pending'], ['approved', 'Approved'], ['rejected', 'Rejected'], ['superseded', 'Superseded'], ['expired', 'Expired']] }));
    target.replaceChildren(h('h1', {}, 'Proposals'), filters,
      page.data.length === 0 ? h('p', { class: 'muted empty' }, 'No proposals.') : h('div', { class: 'cards' }, page.data.map((p, i) => proposalCard(p, leads[i], agentName, agents))),
      pager(page, (offset) => { proposalFilter.offset = offset; route(); }));
  }

  function decider(decidedBy) {
    if (decidedBy === 'system') return 'auto-routing';
    if (decidedBy === `user:${state.me.id}`) return 'you';
    return decidedBy.startsWith('api_key:') ? 'an API key' : 'a reviewer';
  }

  function proposalCard(p, lead, agentName, agents) {
    const name = (id) => agentName.get(id) || id;
    const title = lead ? `${lead.name}${lead.company ? ` · ${lead.company}` : ''}` : p.leadId;
    const trace = table(['Agent', 'Eligible', 'Why'], p.trace.map((t) => h('tr', { class: t.agentId === p.agentId ? 'winner' : '' },
      h('th', { scope: 'row' }, name(t.agentId), t.agentId === p.agentId ? h('span', { class: 'chosen' }, ' ✓ proposed') : null),
      h('td', {}, t.eligible ? 'yes' : 'no'), h('td', {}, t.reason))), 'No candidates were considered (fallback or manual).');
    let actions = null;
    if (p.status === 'pending') {
      const eligible = p.trace.filter((t) => t.eligible && t.agentId !== p.agentId).map((t) => t.agentId);
      const choices = (eligible.length > 0 ? eligible : agents.filter((a) => a.isActive && a.id !== p.agentId).map((a) => a.id));
      const noteId = nextId('note');
      const reassignId = nextId('reassign');
      const act = async (path, body, done) => {
        try { await api.post(`/manager/proposals/${encodeURIComponent(p.id)}/${path}`, body); route(); flash(done); } catch (error) { flash(error.message, 'error'); }
      };
      actions = h('div', { class: 'proposal-actions' },
        h('div', { class: 'field' }, h('label', { for: noteId }, 'Note (optional)'), h('input', { id: noteId, type: 'text', maxlength: 1000 })),
        h('div', { class: 'actions' },
          h('button', { type: 'button', 'data-action': 'approve', onclick: () => {
            const note = document.getElementById(noteId).value.trim();
            act('approve', note ? { note } : {}, `${title} goes to ${name(p.agentId)}.`);
          } }, `Approve ${name(p.agentId)}`),
          h('button', { type: 'button', class: 'danger', 'data-action': 'reject', onclick: () => {
            const note = document.getElementById(noteId).value.trim();
            act('reject', note ? { note } : {}, `Rejected; ${title} is routed again.`);
          } }, 'Reject')),
        choices.length === 0 ? null : h('form', { class: 'inline-form', onsubmit: (e) => {
          e.preventDefault();
          const note = document.getElementById(noteId).value.trim();
          const to = document.getElementById(reassignId).value;
          act('reject', { reassignTo: to, ...(note ? { note } : {}) }, `${title} goes to ${name(to)}.`);
        } },
          h('label', { for: reassignId }, 'Reassign to'),
          h('select', { id: reassignId }, choices.map((id) => h('option', { value: id }, name(id)))),
          h('button', { type: 'submit', class: 'secondary' }, 'Reassign')));
    }
    return h('article', { class: 'card proposal', 'data-proposal': p.id, 'data-lead-name': lead ? lead.name : '' },
      h('header', {},
        h('h2', {}, h('a', { href: `#/proposals/${encodeURIComponent(p.id)}` }, title)),
        badge(p.status)),
      h('p', {}, 'Proposed: ', h('strong', {}, name(p.agentId)), ` by ${p.method.replace('_', ' ')} · ${fmtDate(p.createdAt)}`,
        p.decidedBy ? ` · decided by ${decider(p.decidedBy)}` : '', p.note ? ` · “${p.note}”` : ''),
      h('details', { open: p.status === 'pending' }, h('summary', {}, 'Why this agent'), trace),
      actions);
  }

  // ---------------------------------------------------------------- agents
  const AGENT_STATUSES = [['available', 'Available'], ['away', 'Away'], ['paused', 'Paused']];

  async function renderAgents(target) {
    const [agents, users] = await Promise.all([all('/agents'), hasRole('admin') ? all('/users') : Promise.resolve([])]);
    const rows = agents.map((a) => {
      const statusId = nextId('status');
      const load = a.load || { openLeads: 0, today: 0 };
      return h('tr', { 'data-agent': a.name },
        h('td', {}, a.name), h('td', {}, a.email),
        h('td', {}, a.isActive ? h('form', { class: 'inline-form', onsubmit: async (e) => {
          e.preventDefault();
          try { await api.put(`/agents/${encodeURIComponent(a.id)}`, { status: e.target.elements.status.value }); route(); flash(`${a.name} is ${e.target.elements.status.value}.`); } catch (error) { flash(error.message, 'error'); }
        } },
          h('label', { for: statusId, class: 'visually-hidden' }, `Status of ${a.name}`),
          h('select', { id: statusId, name: 'status' }, AGENT_STATUSES.map(([v, l]) => h('option', { value: v, selected: v === a.status }, l))),
          h('button', { type: 'submit', class: 'secondary' }, 'Set')) : badge('inactive')),
        h('td', { class: 'num' }, `${load.openLeads} / ${a.capacity ?? '∞'}`),
        h('td', { class: 'num' }, `${load.today} / ${a.dailyCap ?? '∞'}`),
        h('td', {}, a.skills.join(', ') || '—'), h('td', {}, a.regions.join(', ') || '—'), h('td', { class: 'num' }, a.weight),
        h('td', { class: 'row-actions' }, a.isActive ? h('button', { type: 'button', class: 'secondary', onclick: async () => {
          if (!(await confirmDialog('Deactivate agent', `${a.name} gets no new leads.`, 'Deactivate'))) return;
          try { await api.del(`/agents/${encodeURIComponent(a.id)}`); route(); flash(`${a.name} is deactivated.`); } catch (error) { flash(error.message, 'error'); }
        } }, 'Deactivate') : null));
    });
    const specs = [
      { name: 'name', label: 'Name', required: true },
      { name: 'email', label: 'E-mail', type: 'email', required: true },
      { name: 'skills', label: 'Skills', hint: 'Comma-separated, e.g. enterprise, german' },
      { name: 'regions', label: 'Regions', hint: 'Comma-separated, e.g. emea, dach' },
      { name: 'weight', label: 'Weight', type: 'number', value: 1, min: 1 },
      { name: 'capacity', label: 'Capacity (open leads)', type: 'number', min: 0, hint: 'Empty: no limit' },
      { name: 'dailyCap', label: 'Daily cap', type: 'number', min: 0, hint: 'Empty: no limit' },
    ];
    if (users.length > 0) {
      specs.push({ name: 'userId', label: 'Signs in as', type: 'select', value: '', hint: 'The user who works this agent’s leads.',
        options: [['', 'Nobody'], ...users.filter((u) => u.isActive).map((u) => [u.id, `${u.username} (${ROLE_LABEL[u.role]})`])] });
    }
    const form = makeForm(specs, async (v) => {
      const body = { name: v.name, email: v.email, skills: csv(v.skills), regions: csv(v.regions) };
      if (v.weight !== null) body.weight = v.weight;
      if (v.capacity !== null) body.capacity = v.capacity;
      if (v.dailyCap !== null) body.dailyCap = v.dailyCap;
      if (v.userId) body.userId = v.userId;
      const res = await api.post('/agents', body);
      route();
      flash(`${res.data.name} is added.`);
    }, 'Add agent', { title: 'Add an agent', attrs: { id: 'agent-form', class: 'form panel' } });
    target.replaceChildren(h('h1', {}, 'Agents'),
      table(['Name', 'E-mail', 'Status', 'Open / capacity', 'Today / cap', 'Skills', 'Regions', 'Weight', 'Actions'], rows, 'No agents yet.'), form);
  }

  // ---------------------------------------------------------------- pools and rules
  const METHODS = [['round_robin', 'Round robin'], ['weighted', 'Weighted'], ['least_loaded', 'Least loaded']];
  const OPS = ['eq', 'neq', 'in', 'notIn', 'contains', 'gte', 'lte', 'exists'];
  const LEAD_FIELDS = ['country', 'region', 'source', 'company', 'score', 'emailDomain'];

  async function renderRouting(target, params) {
    const [pools, rules, agents] = await Promise.all([all('/routing/pools'), all('/routing/rules'), all('/agents')]);
    const agentName = new Map(agents.map((a) => [a.id, a.name]));
    const poolName = new Map(pools.map((p) => [p.id, p.name]));
    const editing = { pool: params[0] === 'pool' ? pools.find((p) => p.id === params[1]) : null, rule: params[0] === 'rule' ? rules.find((r) => r.id === params[1]) : null };
    const remove = (kind, item) => async () => {
      if (!(await confirmDialog(`Delete ${kind}`, `Delete ${item.name}?`, 'Delete'))) return;
      try { await api.del(`/routing/${kind}s/${encodeURIComponent(item.id)}`); go('#/routing'); flash(`${item.name} is deleted.`); } catch (error) { flash(error.message, 'error'); }
    };
    const poolRows = pools.map((p) => h('tr', { 'data-pool': p.name },
      h('td', {}, p.name), h('td', {}, p.method.replace('_', ' ')),
      h('td', {}, p.memberIds.map((id) => agentName.get(id) || id).join(', ') || '—'),
      h('td', { class: 'row-actions' },
        h('a', { class: 'button secondary', href: `#/routing/pool/${encodeURIComponent(p.id)}` }, 'Edit'),
        h('button', { type: 'button', class: 'danger', onclick: remove('pool', p) }, 'Delete'))));
    const ruleRows = rules.map((r) => h('tr', { 'data-rule': r.name },
      h('td', { class: 'num' }, r.priority), h('td', {}, r.name),
      h('td', {}, r.conditions.map((c) => `${c.field} ${c.op} ${c.op === 'exists' ? '' : JSON.stringify(c.value)}`).join(' and ') || 'every lead'),
      h('td', {}, poolName.get(r.poolId) || r.poolId), h('td', {}, r.requiredSkills.join(', ') || '—'),
      h('td', { class: 'row-actions' },
        h('a', { class: 'button secondary', href: `#/routing/rule/${encodeURIComponent(r.id)}` }, 'Edit'),
        h('button', { type: 'button', class: 'danger', onclick: remove('rule', r) }, 'Delete'))));

    const pool = editing.pool;
    const poolSpecs = [
      { name: 'name', label: 'Name', required: true, value: pool && pool.name },
      { name: 'method', label: 'Method', type: 'select', value: (pool && pool.method) || 'round_robin', options: METHODS },
      { name: 'memberIds', label: 'Members', type: 'checkboxes', value: pool ? pool.memberIds : [], empty: 'Add agents first.',
        options: agents.filter((a) => a.isActive).map((a) => [a.id, a.name]) },
    ];
    const poolForm = makeForm(poolSpecs, async (v) => {
      const res = pool ? await api.put(`/routing/pools/${encodeURIComponent(pool.id)}`, v) : await api.post('/routing/pools', v);
      go('#/routing');
      flash(`Pool ${res.data.name} is saved.`);
    }, pool ? 'Save pool' : 'Add pool', { title: pool ? `Edit pool ${pool.name}` : 'Add a pool', attrs: { id: 'pool-form', class: 'form panel' }, cancel: pool ? () => go('#/routing') : null });

    const rule = editing.rule;
    const conditions = h('div', { class: 'conditions', 'data-error-for': 'conditions-list' });
    const datalistId = nextId('fields');
    const addCondition = (c) => {
      const row = h('div', { class: 'condition' });
      const fid = nextId('cf'); const oid = nextId('co'); const vid = nextId('cv');
      const value = c && c.value !== undefined ? (typeof c.value === 'string' ? c.value : JSON.stringify(c.value)) : '';
      add(row, [
        h('label', { for: fid, class: 'visually-hidden' }, 'Lead field'),
        h('input', { id: fid, name: 'cField', list: datalistId, value: c ? c.field : '', placeholder: 'field, e.g. country' }),
        h('label', { for: oid, class: 'visually-hidden' }, 'Operator'),
        h('select', { id: oid, name: 'cOp' }, OPS.map((op) => h('option', { value: op, selected: c && c.op === op }, op))),
        h('label', { for: vid, class: 'visually-hidden' }, 'Value'),
        h('input', { id: vid, name: 'cValue', value, placeholder: 'value; JSON for lists, e.g. ["DE","FR"]' }),
        h('button', { type: 'button', class: 'secondary', 'aria-label': 'Remove condition', onclick: () => row.remove() }, '×')]);
      conditions.append(row);
    };
    (rule ? rule.conditions : []).forEach(addCondition);
    const ruleSpecs = [
      { name: 'name', label: 'Name', required: true, value: rule && rule.name },
      { name: 'priority', label: 'Priority', type: 'number', value: rule ? rule.priority : 100, hint: 'Lower runs first.' },
      { name: 'poolId', label: 'Send to pool', type: 'select', value: rule ? rule.poolId : '', options: [['', 'Choose a pool'], ...pools.map((p) => [p.id, p.name])] },
      { name: 'requiredSkills', label: 'Required skills', value: rule ? rule.requiredSkills.join(', ') : '', hint: 'Comma-separated; only agents with all of them.' },
    ];
    const conditionBlock = h('fieldset', { class: 'condition-block' }, h('legend', {}, 'Conditions (all must hold; none: every lead)'),
      h('datalist', { id: datalistId }, LEAD_FIELDS.map((f) => h('option', { value: f }))),
      conditions,
      h('p', { class: 'field-error', 'data-error-for': 'conditions', hidden: true }),
      h('button', { type: 'button', class: 'secondary', onclick: () => addCondition(null) }, 'Add condition'));
    const ruleForm = makeForm(ruleSpecs, async (v, form) => {
      const conds = [...form.querySelectorAll('.condition')].map((row) => {
        const raw = row.querySelector('[name="cValue"]').value.trim();
        let parsed = raw;
        try { parsed = raw === '' ? null : JSON.parse(raw); } catch (_) { parsed = raw; }
        return { field: row.querySelector('[name="cField"]').value.trim(), op: row.querySelector('[name="cOp"]').value, value: parsed };
      });
      const body = { name: v.name, poolId: v.poolId, conditions: conds, requiredSkills: csv(v.requiredSkills) };
      if (v.priority !== null) body.priority = v.priority;
      const res = rule ? await api.put(`/routing/rules/${encodeURIComponent(rule.id)}`, body) : await api.post('/routing/rules', body);
      go('#/routing');
      flash(`Rule ${res.data.name} is saved.`);
    }, rule ? 'Save rule' : 'Add rule', { title: rule ? `Edit rule ${rule.name}` : 'Add a rule', after: conditionBlock, attrs: { id: 'rule-form', class: 'form panel' }, cancel: rule ? () => go('#/routing') : null });

    target.replaceChildren(h('h1', {}, 'Pools & rules'),
      h('section', { 'aria-labelledby': 'pools-title' }, h('h2', { id: 'pools-title' }, 'Pools'),
        table(['Name', 'Method', 'Members', 'Actions'], poolRows, 'No pools yet.'), poolForm),
      h('section', { 'aria-labelledby': 'rules-title' }, h('h2', { id: 'rules-title' }, 'Rules'),
        table(['Priority', 'Name', 'When', 'Pool', 'Skills', 'Actions'], ruleRows, 'No rules yet: leads go to the default pool.'), ruleForm));
    if (pool || rule) (pool ? poolForm : ruleForm).scrollIntoView();
  }

  // ---------------------------------------------------------------- leads
  const leadFilter = { status: '', offset: 0 };
  const LEAD_STATUSES = ['new', 'proposed', 'assigned', 'accepted', 'unrouted', 'contacted', 'won', 'lost'];
  // Forward only: each status offers the ones after it.
  const WORK_STATUSES = [['accepted', 'Accepted'], ['contacted', 'Contacted'], ['won', 'Won'], ['lost', 'Lost']];

  async function renderLeads(target) {
    const manager = hasRole('manager');
    const [page, agents] = await Promise.all([
      api.get(`/leads${query({ status: leadFilter.status, limit: PAGE, offset: leadFilter.offset })}`),
      manager ? all('/agents') : Promise.resolve([]),
    ]);
    const agentName = new Map(agents.map((a) => [a.id, a.name]));
    const rows = page.data.map((l) => {
      let work = null;
      if (!manager && ['assigned', 'accepted', 'contacted'].includes(l.status)) {
        const sid = nextId('lead-status');
        work = h('form', { class: 'inline-form', onsubmit: async (e) => {
          e.preventDefault();
          try { await api.put(`/leads/${encodeURIComponent(l.id)}`, { status: e.target.elements.status.value }); route(); flash(`${l.name} is ${e.target.elements.status.value}.`); } catch (error) { flash(error.message, 'error'); }
        } },
          h('label', { for: sid, class: 'visually-hidden' }, `New status of ${l.name}`),
          h('select', { id: sid, name: 'status' }, WORK_STATUSES.slice(WORK_STATUSES.findIndex(([v]) => v === l.status) + 1).map(([v, t]) => h('option', { value: v }, t))),
          h('button', { type: 'submit', class: 'secondary' }, 'Update'));
      }
      return h('tr', { 'data-lead': l.name },
        h('td', {}, l.name), h('td', {}, l.company || '—'), h('td', {}, l.email || '—'),
        h('td', {}, badge(l.status), l.unroutedReason ? h('span', { class: 'muted' }, ` ${l.unroutedReason}`) : null),
        manager ? h('td', {}, l.assignedAgentId ? (agentName.get(l.assignedAgentId) || l.assignedAgentId) : '—') : null,
        h('td', {}, fmtDate(l.createdAt)),
        manager ? null : h('td', {}, work));
    });
    const filters = h('form', { class: 'filters', 'aria-label': 'Filters', onsubmit: (e) => e.preventDefault(), onchange: (e) => {
      leadFilter.status = e.target.value; leadFilter.offset = 0; route();
    } }, field({ name: 'status', label: 'Status', type: 'select', value: leadFilter.status, options: [['', 'All'], ...LEAD_STATUSES.map((s) => [s, s])] }));
    const headers = manager ? ['Name', 'Company', 'E-mail', 'Status', 'Agent', 'Received'] : ['Name', 'Company', 'E-mail', 'Status', 'Received', 'Work'];
    let form = null;
    if (manager) {
      const specs = [
        { name: 'name', label: 'Name', required: true },
        { name: 'email', label: 'E-mail', type: 'email' },
        { name: 'company', label: 'Company' },
        { name: 'country', label: 'Country' },
        { name: 'region', label: 'Region' },
        { name: 'source', label: 'Source', value: 'admin console' },
        { name: 'score', label: 'Score (0-100)', type: 'number', min: 0, max: 100 },
      ];
      form = makeForm(specs, async (v) => {
        const body = { name: v.name };
        for (const k of ['email', 'company', 'country', 'region', 'source']) if (v[k]) body[k] = v[k];
        if (v.score !== null) body.score = v.score;
        const res = await api.post('/leads', body);
        const p = res.data.proposal;
        route();
        flash(p ? `${res.data.lead.name} is proposed to ${agentName.get(p.agentId) || p.agentId} (${p.status}).`
          : `${res.data.lead.name} could not be routed: ${res.data.lead.unroutedReason || 'no agent'}.`);
      }, 'Add lead', { title: 'Add a lead', attrs: { id: 'lead-form', class: 'form panel' } });
    }
    target.replaceChildren(h('h1', {}, manager ? 'Leads' : 'My leads'), filters,
      table(headers, rows, manager ? 'No leads.' : 'No leads are assigned to you.'),
      pager(page, (offset) => { leadFilter.offset = offset; route(); }), form);
  }

  // ---------------------------------------------------------------- start
  window.addEventListener('hashchange', route);
  window.addEventListener('popstate', route);

  async function boot() {
    try {
      state.me = (await request('GET', '/auth/me', undefined, { scoped: false })).data;
    } catch (error) {
      state.me = null;
      renderLogin(error instanceof ApiError && error.status === 401 ? null : error.message);
      return;
    }
    try {
      await startConsole();
    } catch (error) {
      app.replaceChildren(h('main', { id: 'main' }, errorBox(error)));
    }
  }

  boot();
})();
