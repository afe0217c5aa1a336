//! Runs the session app on a loopback port until killed, for recording a browser session
//! (`scripts/record-har.mjs`): `cargo run -p loadcast-testkit --example session_app`.

fn main() {
    let app = loadcast_testkit::SessionApp::start(1000);
    println!("{}", app.url());
    loop {
        std::thread::park();
    }
}
