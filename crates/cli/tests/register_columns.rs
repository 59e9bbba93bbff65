//! Issue 11 #8: a register CSV without the organisation name/kind/country columns keeps the
//! stored values (as sites and devices already did), so re-importing a device list does not
//! change the compliance result.

use std::path::PathBuf;
use std::process::Command;

fn tmpdir(tag: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!(
        "camtrace-regcols-{tag}-{}-{}",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos()
    ));
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn import(db: &str, file: &std::path::Path) {
    let o = Command::new(env!("CARGO_BIN_EXE_camtrace"))
        .args(["import", file.to_str().unwrap(), "--db", db])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
}

#[test]
fn register_csv_without_organisation_columns_keeps_the_stored_organisation() {
    let dir = tmpdir("org");
    let db = format!("sqlite://{}", dir.join("t.db").display());
    let full = dir.join("full.csv");
    std::fs::write(
        &full,
        "organisation,organisation_name,organisation_kind,country,site,device,brand\n\
         dept,Department for Examples,central_government,GB,hq,cam-1,Axis\n",
    )
    .unwrap();
    import(&db, &full);
    let partial = dir.join("partial.csv");
    std::fs::write(
        &partial,
        "organisation,site,device,brand\ndept,hq,cam-2,Hikvision\n",
    )
    .unwrap();
    import(&db, &partial);
    let org = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(async {
            let store = camtrace_store::open(&db).await.unwrap();
            store.get_organisation("dept").await.unwrap().unwrap()
        });
    assert_eq!(org.name, "Department for Examples");
    assert_eq!(org.kind.as_deref(), Some("central_government"));
    assert_eq!(org.country.as_deref(), Some("GB"));
    let _ = std::fs::remove_dir_all(&dir);
}
