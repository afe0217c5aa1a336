//! Ctrl-C: the first one cancels the work gracefully (what is done is kept), a second one quits
//! at once.

use std::sync::atomic::{AtomicBool, Ordering};

use loadcast_stats::Cancel;

use crate::failure::{Failure, exit};

/// Cancels `cancel` on the first Ctrl-C, saying `what` happens now.
pub fn cancel_on_ctrl_c(what: &'static str, cancel: &Cancel) -> Result<(), Failure> {
    static INTERRUPTED: AtomicBool = AtomicBool::new(false);
    let cancel = cancel.clone();
    ctrlc::set_handler(move || {
        if INTERRUPTED.swap(true, Ordering::SeqCst) {
            eprintln!("\nloadcast: second interrupt, quitting at once");
            std::process::exit(i32::from(exit::INTERRUPTED));
        }
        eprintln!("\nloadcast: interrupted, {what}…");
        cancel.cancel();
    })
    .map_err(|e| Failure::run(format!("cannot install the Ctrl-C handler: {e}")))
}
