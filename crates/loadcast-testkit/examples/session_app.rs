//! Runs the session app on a loopback port until killed, for recording a browser session
//! (`scripts/record-har.mjs`): `cargo run -p loadcast-testkit --example session_app`.

fn main() {
    // SESSION_APP_USERS: how many users the app knows (user{i}@example.com / pw-{i}).
    let users = std::env::var("SESSION_APP_USERS")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(1000);
    let app = loadcast_testkit::SessionApp::start(users);
    println!("{}", app.url());
    loop {
        std::thread::park();
    }
}
