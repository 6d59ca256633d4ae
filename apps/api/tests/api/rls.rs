//! Row-level security on PostgreSQL, on its own: with the application's
//! `org_id` filters bypassed (raw SQL through the server's own role, in a
//! transaction scoped to organization A), organization B's rows are
//! invisible and can be neither inserted nor changed. SQLite has no such
//! layer; there the test has nothing to prove and says so.

use migration::TENANT_TABLES;
use sea_orm::{ConnectionTrait, DatabaseConnection, DbBackend, Statement, TransactionTrait};

use crate::{
    helpers::{PG_APP_ROLE, spawn_app},
    isolation::objects_of_org_a,
};

async fn count(conn: &impl ConnectionTrait, sql: &str) -> i64 {
    conn.query_one_raw(Statement::from_string(DbBackend::Postgres, sql.to_owned()))
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e}"))
        .unwrap()
        .try_get_by_index::<i64>(0)
        .unwrap()
}

async fn connect(url: &str) -> DatabaseConnection {
    sea_orm::Database::connect(url).await.unwrap()
}

async fn scoped_to(conn: &impl ConnectionTrait, org: &str) {
    conn.execute_unprepared(&format!("SELECT set_config('app.org_id', '{org}', true)"))
        .await
        .unwrap();
}

#[tokio::test]
async fn row_level_security_hides_and_protects_other_organizations_rows_on_its_own() {
    let app = spawn_app().await;
    if !app.database().is_postgres() {
        eprintln!("row-level security is PostgreSQL's: nothing to prove on SQLite");
        return;
    }
    let (org_a, admin_a) = app.org_with_admin("rls-a").await;
    let (org_b, admin_b) = app.org_with_admin("rls-b").await;
    objects_of_org_a(&app, &org_a, &admin_a).await;
    objects_of_org_a(&app, &org_b, &admin_b).await;
    let (a, b) = (org_a["id"].as_str().unwrap(), org_b["id"].as_str().unwrap());

    // What each organization holds, seen by the superuser (RLS-exempt).
    let superuser = connect(app.database_url()).await;
    // Every table with an `org_id` is under a forced policy: a table added
    // later without one fails here.
    let rows = superuser
        .query_all_raw(Statement::from_string(
            DbBackend::Postgres,
            "SELECT c.relname::text AS name, c.relrowsecurity AND c.relforcerowsecurity AS forced \
             FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace \
             WHERE n.nspname = 'public' AND c.relkind = 'r' AND EXISTS (SELECT 1 FROM \
               information_schema.columns k WHERE k.table_schema = 'public' \
               AND k.table_name = c.relname AND k.column_name = 'org_id') \
             ORDER BY 1",
        ))
        .await
        .unwrap();
    let forced: Vec<(String, bool)> = rows
        .iter()
        .map(|r| {
            (
                r.try_get("", "name").unwrap(),
                r.try_get("", "forced").unwrap(),
            )
        })
        .collect();
    let mut expected: Vec<(String, bool)> = TENANT_TABLES
        .iter()
        .map(|t| ((*t).to_owned(), true))
        .collect();
    expected.sort();
    assert_eq!(
        forced, expected,
        "tables with org_id and their forced policy"
    );
    let mut held = Vec::new();
    for table in TENANT_TABLES {
        let of = |org: &str| format!("SELECT COUNT(*) FROM {table} WHERE org_id = '{org}'");
        held.push((
            table,
            count(&superuser, &of(a)).await,
            count(&superuser, &of(b)).await,
        ));
    }
    for table in [
        "users",
        "api_keys",
        "agents",
        "routing_pools",
        "leads",
        "proposals",
        "events",
    ] {
        let (_, _, in_b) = held.iter().find(|(t, ..)| *t == table).unwrap();
        assert!(*in_b > 0, "the fixture gives org B rows in {table}");
    }

    // The server's own role, no application filter: only A's rows exist.
    let app_role = connect(&app.database().app_url()).await;
    let txn = app_role.begin().await.unwrap();
    scoped_to(&txn, a).await;
    for (table, in_a, _) in &held {
        assert_eq!(
            count(&txn, &format!("SELECT COUNT(*) FROM {table}")).await,
            *in_a,
            "{table}: scoped to A, every row visible is A's"
        );
        assert_eq!(
            count(
                &txn,
                &format!("SELECT COUNT(*) FROM {table} WHERE org_id = '{b}'")
            )
            .await,
            0,
            "{table}: B's rows are invisible even when asked for by org_id"
        );
    }
    // Changing B's rows changes nothing; inserting one for B is refused.
    for (table, ..) in &held {
        let updated = txn
            .execute_unprepared(&format!(
                "UPDATE {table} SET org_id = org_id WHERE org_id = '{b}'"
            ))
            .await
            .unwrap();
        assert_eq!(
            updated.rows_affected(),
            0,
            "{table}: B's rows cannot be updated"
        );
        let deleted = txn
            .execute_unprepared(&format!("DELETE FROM {table} WHERE org_id = '{b}'"))
            .await
            .unwrap();
        assert_eq!(
            deleted.rows_affected(),
            0,
            "{table}: B's rows cannot be deleted"
        );
    }
    let sp = txn.begin().await.unwrap();
    let err = sp
        .execute_unprepared(&format!(
            "INSERT INTO routing_pools (id, org_id, name, method, created_at, updated_at) \
             VALUES ('pool_rls', '{b}', 'smuggled', 'round_robin', now(), now())"
        ))
        .await
        .expect_err("a row for B cannot be inserted in A's transaction");
    assert!(
        err.to_string().contains("row-level security"),
        "refused by the policy: {err}"
    );
    sp.rollback().await.unwrap();
    // Moving one of A's rows to B is refused too.
    let sp = txn.begin().await.unwrap();
    let err = sp
        .execute_unprepared(&format!("UPDATE routing_pools SET org_id = '{b}'"))
        .await
        .expect_err("A's row cannot be handed to B");
    assert!(err.to_string().contains("row-level security"), "{err}");
    sp.rollback().await.unwrap();
    // The role cannot lift the policy, nor pass for a cross-tenant function.
    let sp = txn.begin().await.unwrap();
    assert!(
        sp.execute_unprepared("ALTER TABLE leads DISABLE ROW LEVEL SECURITY")
            .await
            .is_err(),
        "{PG_APP_ROLE} does not own the tables"
    );
    sp.rollback().await.unwrap();
    txn.execute_unprepared("SELECT set_config('app.path', 'sign_in', true)")
        .await
        .unwrap();
    assert_eq!(
        count(
            &txn,
            &format!("SELECT COUNT(*) FROM users WHERE org_id = '{b}'")
        )
        .await,
        0,
        "setting app.path by hand opens nothing"
    );
    txn.rollback().await.unwrap();

    // Outside a tenant transaction nothing is visible at all.
    for table in TENANT_TABLES {
        assert_eq!(
            count(&app_role, &format!("SELECT COUNT(*) FROM {table}")).await,
            0,
            "{table}: no organization set, no row"
        );
    }
    // The named cross-tenant paths still work: a sign-in finds B's admin.
    assert_eq!(
        count(
            &app_role,
            "SELECT COUNT(*) FROM lr_users_by_email('admin@rls-b.test')"
        )
        .await,
        1
    );
    // The owner is bound too (FORCE): without an organization it sees nothing.
    let owner = connect(&app.database().owner_url().unwrap()).await;
    assert_eq!(count(&owner, "SELECT COUNT(*) FROM leads").await, 0);

    // And B's rows are all still there.
    for (table, _, in_b) in &held {
        assert_eq!(
            count(
                &superuser,
                &format!("SELECT COUNT(*) FROM {table} WHERE org_id = '{b}'")
            )
            .await,
            *in_b,
            "{table}: nothing of B changed"
        );
    }
}
