//! A catalogue in PostgreSQL reached over TLS: the server's certificate checked against the
//! operator's CA (`sslmode=verify-full&sslrootcert=FILE` in the URL); a plain connection and
//! a server the CA did not sign are refused.

use awcopy_jobs::{Catalog, CatalogAddress, JobCatalog, ListFilter, NewJob};
use awcopy_testkit::catalogue::PostgresServer;

async fn open(url: &str) -> Result<Catalog, awcopy_jobs::CatalogError> {
    Catalog::open(url.parse::<CatalogAddress>().unwrap()).await
}

#[tokio::test]
async fn a_catalogue_in_postgres_over_tls_checks_the_server() {
    let (server, ca) = PostgresServer::start_tls();
    let base = server.url();
    let verified = format!("{base}?sslmode=verify-full&sslrootcert={}", ca.display());
    let catalog = open(&verified).await.unwrap();
    catalog
        .create_job(NewJob {
            user: "alice".into(),
            name: None,
            command: "cp".into(),
            source: "s3://a/".into(),
            dest: "s3://b/".into(),
            spec: serde_json::json!({}),
            schedule_run: None,
        })
        .await
        .unwrap();
    let jobs = catalog.list(&ListFilter::default()).await.unwrap();
    assert_eq!(jobs.len(), 1);

    // The server takes no connection without TLS.
    let plain = open(&format!("{base}?sslmode=disable")).await.unwrap_err();
    assert!(plain.to_string().contains("pg_hba.conf"), "{plain}");
    // A CA that did not sign the server's certificate: the client refuses the server.
    let other = tempfile::tempdir().unwrap();
    let (other_ca, _, _) = awcopy_testkit::nats::certificates(other.path());
    let wrong = format!(
        "{base}?sslmode=verify-full&sslrootcert={}",
        other_ca.display()
    );
    let refused = open(&wrong).await.unwrap_err();
    assert!(
        refused.to_string().to_lowercase().contains("certificate"),
        "{refused}"
    );
}
