//! `loadcast capacity`: run the study for a plan, write it, print it, record it.

use std::path::PathBuf;

use loadcast_stats::{Cancel, Document};

use crate::cli::{CapacityArgs, StoreArgs};
use crate::failure::{Failure, exit};
use loadcast_plan::StudySettings;

use crate::study::{record, study};

pub fn capacity(args: CapacityArgs, store: &StoreArgs) -> Result<u8, Failure> {
    let plan = loadcast_plan::load(&args.plan)?;
    let cancel = Cancel::new();
    crate::interrupt::cancel_on_ctrl_c("ending the capacity study after this step", &cancel)?;
    let out = args
        .out
        .clone()
        .unwrap_or_else(|| PathBuf::from("capacity.json"));
    // A study takes minutes: a file of the user's in its way is found before, not after.
    loadcast_capacity::CapacityStudy::check_replaceable(&out)
        .map_err(|e| Failure::usage(format!("{e}; nothing was measured")))?;
    let resolved = crate::resolve::resolve(&plan, args.projection.as_deref())?;
    let study = study(&resolved, &StudySettings::from(&args), !args.quiet, &cancel)?;
    let fallback = format!(
        "loadcast-{}-{}.capacity.json",
        plan.name,
        std::process::id()
    );
    let saved = study.save_or_rescue(&out, &fallback);
    record(&study, store, cancel.is_cancelled());
    saved?;
    print!("{}", loadcast_report::capacity_summary(&study));
    println!("capacity study written to {}", out.display());
    if cancel.is_cancelled() {
        return Ok(exit::INTERRUPTED);
    }
    Ok(exit::PASSED)
}
