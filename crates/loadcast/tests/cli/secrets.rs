//! Secrets never leak: a value planted in each place a credential can enter a plan — an
//! `${env:…}` header, a cookie, a URL query, a feeder column marked secret, a database
//! password, a target given from the environment — appears in no output of any command, no
//! file loadcast writes and not in the run store.

use super::*;

const TOKEN: &str = "tok-8f3a91c2e7";
const COOKIE: &str = "ck-5d02b6e4a1";
const QUERY: &str = "qk-71c9e0d3b8";
const PASSWORD: &str = "pw-c41e9a7f20";
const DB_PASSWORD: &str = "db-2be8f61d95";
const BAD_TARGET: &str = "bt-90d7c3a5e6";

#[test]
fn no_secret_reaches_any_output_file_or_the_store() {
    let _alone = measuring_alone();
    let server = TestServer::start();
    let dir = workdir("secrets");
    let mut users = String::from("email,password\n");
    for i in 0..50 {
        users.push_str(&format!("u{i}@example.com,{PASSWORD}-{i}\n"));
    }
    std::fs::write(dir.join("users.csv"), users).unwrap();
    let plan = |target: &str| {
        format!(
            "name = \"secrets\"\ntarget = \"{target}\"\n\
             [http]\nheaders = {{ authorization = \"Bearer ${{env:LC_TEST_TOKEN}}\", cookie = \"sid=${{env:LC_TEST_COOKIE}}\" }}\n\
             [slo]\np99 = \"2s\"\nerrors = \"100%\"\n\
             [feeders.user]\ncsv = \"users.csv\"\nsecret = [\"password\"]\n\
             [[scenario]]\n[[scenario.step]]\npost = \"/\"\njson = {{ email = \"{{{{user.email}}}}\", password = \"{{{{user.password}}}}\" }}\n\
             [[scenario.step]]\nget = \"/?key=${{env:LC_TEST_QUERY}}\"\n\
             [load]\nmodel = \"open\"\nrate = \"20/s\"\nduration = \"2s\"\n\
             [database]\nurl = \"postgres://postgres:${{env:LC_TEST_DB_PASSWORD}}@127.0.0.1:5432/postgres\"\n"
        )
    };
    std::fs::write(dir.join("plan.toml"), plan(&server.url())).unwrap();
    std::fs::write(dir.join("bad.toml"), plan("${env:LC_TEST_BAD_TARGET}")).unwrap();
    let store = dir.join("runs.db");
    let mut outputs = String::new();
    let mut go = |args: &[&str]| {
        let out = loadcast()
            .env("LC_TEST_TOKEN", TOKEN)
            .env("LC_TEST_COOKIE", COOKIE)
            .env("LC_TEST_QUERY", QUERY)
            .env("LC_TEST_DB_PASSWORD", DB_PASSWORD)
            .env("LC_TEST_BAD_TARGET", format!("ftp://{BAD_TARGET}"))
            .arg("--store")
            .arg(&store)
            .args(args)
            .current_dir(&dir)
            .output()
            .unwrap();
        outputs.push_str(&format!(
            "$ loadcast {}\n{}{}",
            args.join(" "),
            text(&out.stdout),
            text(&out.stderr)
        ));
        out.status.code()
    };
    assert_eq!(go(&["plan", "check", "plan.toml"]), Some(0));
    assert_eq!(
        go(&["plan", "check", "bad.toml"]),
        Some(2),
        "a target that is not http(s)"
    );
    assert_eq!(
        go(&[
            "run",
            "plan.toml",
            "--progress",
            "lines",
            "--out",
            "r.json",
            "--html",
            "r.html",
            "--junit",
            "r.xml",
            "--summary",
            "s.json",
            "--csv",
            "t.csv",
        ]),
        Some(0)
    );
    assert_eq!(go(&["report", "r.json", "--html", "again.html"]), Some(0));
    assert_eq!(go(&["runs"]), Some(0));
    assert_eq!(go(&["runs", "1"]), Some(0));
    assert_eq!(
        go(&["plan", "render", "plan.toml", "-o", "review.html"]),
        Some(0)
    );
    assert_eq!(go(&["compare", "r.json", "1"]), Some(0));
    // The requests really carried the secrets: the test would prove nothing otherwise.
    assert!(server.counters.requests() >= 80, "{outputs}");

    let mut everything = outputs.clone();
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        if path
            .file_name()
            .is_some_and(|n| n != "plan.toml" && n != "bad.toml" && n != "users.csv")
        {
            let bytes = std::fs::read(&path).unwrap();
            everything.push_str(&format!(
                "\n== {}\n{}",
                path.display(),
                String::from_utf8_lossy(&bytes)
            ));
        }
    }
    assert!(store.exists(), "the run was recorded");
    for secret in [TOKEN, COOKIE, QUERY, PASSWORD, DB_PASSWORD, BAD_TARGET] {
        if let Some(at) = everything.find(secret) {
            let from = everything[..at].rfind("\n== ").unwrap_or(0);
            panic!(
                "{secret} leaked, in {}:\n…{}…",
                everything[from..].lines().next().unwrap_or(""),
                &everything[at.saturating_sub(200)..(at + 100).min(everything.len())]
            );
        }
    }
}
