//! `loadcast grow`: the guard, secrets, and an exact resume after SIGKILL.

use super::*;

#[test]
fn grow_refuses_unmarked_databases_and_resumes_exactly_after_sigkill() {
    // Every CLI test runs alone: a load or a growth beside a measurement is its noise.
    let _alone = measuring_alone();
    let db = TestDb::create(
        Engine::Postgres,
        "CREATE TABLE events (id BIGSERIAL PRIMARY KEY, ref UUID NOT NULL UNIQUE, \
         user_email TEXT NOT NULL UNIQUE, kind VARCHAR(10) NOT NULL CHECK (kind IN ('view', 'click', 'buy')), \
         created_at TIMESTAMPTZ NOT NULL, payload JSONB);",
    );
    // Trust authentication ignores the password; the point is that it is never printed.
    let url = db.url.replace("postgres@", "postgres:s3cret-pw@");
    let dir = workdir("grow");
    let grow = |extra: &[&str]| {
        let mut args = vec!["grow", "--db", url.as_str(), "--progress", "lines"];
        args.extend_from_slice(extra);
        run_in(&dir, &args)
    };
    // A malformed target is refused by the flag parser, before anything connects.
    for (bad, says) in [
        ("events", "expected TABLE=TARGET"),
        ("events=lots", "\"lots\" is not a target"),
    ] {
        let out = grow(&["--rows", bad]);
        assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
        assert_has(
            &text(&out.stderr),
            &format!("invalid value '{bad}' for '--rows <TABLE=TARGET>'"),
        );
        assert_has(&text(&out.stderr), says);
    }
    let out = grow(&["--rows", "events=100"]);
    assert_eq!(out.status.code(), Some(2));
    let stderr = text(&out.stderr);
    assert!(stderr.contains("refusing to write to database"), "{stderr}");
    assert!(!stderr.contains("s3cret-pw"), "{stderr}");
    assert_eq!(db.number("SELECT count(*) FROM events"), 0.0);

    let out = grow(&["--init-marker"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert_has(&text(&out.stdout), "postgres:***@");

    let target = 300_000u64;
    let child = loadcast()
        .args(["grow", "--db", &url, "--progress", "off", "--batch", "5000"])
        .args(["--rows", &format!("events={target}")])
        .current_dir(&dir)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    while db.number("SELECT count(*) FROM events") < 20_000.0 {
        assert!(std::time::Instant::now() < deadline, "growth did not start");
        std::thread::sleep(Duration::from_millis(20));
    }
    let status = Command::new("kill")
        .args(["-KILL", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let mut child = child;
    let _ = child.wait();
    // A COPY sent whole before the kill may still commit on the server: wait until the count
    // holds still.
    let mut partial = db.number("SELECT count(*) FROM events") as u64;
    loop {
        std::thread::sleep(Duration::from_millis(500));
        let now = db.number("SELECT count(*) FROM events") as u64;
        if now == partial {
            break;
        }
        partial = now;
    }
    assert!(partial > 0 && partial < target, "killed at {partial} rows");
    assert_eq!(partial % 5000, 0, "whole batches only: {partial}");

    let out = grow(&["--batch", "5000", "--rows", &format!("events={target}")]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    assert!(stdout.contains(&format!("{partial}")), "{stdout}");
    assert!(
        stdout.contains("statistics refreshed with ANALYZE"),
        "{stdout}"
    );
    assert_eq!(db.number("SELECT count(*) FROM events") as u64, target);
    assert_eq!(
        db.number("SELECT count(DISTINCT ref) FROM events") as u64,
        target
    );
    assert_eq!(
        db.number("SELECT count(DISTINCT user_email) FROM events") as u64,
        target
    );
    assert_eq!(
        db.number("SELECT count(DISTINCT id) FROM events") as u64,
        target
    );
}
