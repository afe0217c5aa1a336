//! The plan resolved against its projection for the commands that need one: the given
//! projection file, else the forecast of the plan's own `[history]` (said so on stderr).

use std::path::Path;

use loadcast_plan::{Plan, ResolvedPlan};
use loadcast_stats::Document;

use crate::failure::Failure;

pub fn resolve<'a>(plan: &'a Plan, projection: Option<&Path>) -> Result<ResolvedPlan<'a>, Failure> {
    let given = match projection {
        Some(path) => Some(loadcast_forecast::Projection::load(path)?),
        None => None,
    };
    let forecast = given.is_none();
    let resolved = ResolvedPlan::new(plan, given)?;
    if let (true, Some(p), Some(h)) = (forecast, &resolved.projection, &plan.history) {
        eprintln!(
            "loadcast: forecast from the plan's [history] ({}): {}",
            h.csv.display(),
            p.growth_summary()
        );
    }
    Ok(resolved)
}
