//! Which seasonal cycles a series is modelled with: those its calendar supports (the grid
//! detects the day, the week and the year its length allows), kept only when the series
//! repeats at them; or exactly the ones a user asks for (`--seasonality weekly,yearly`), an
//! error when the history is too short for one.

use crate::ForecastError;
use crate::history::{History, Series};
use crate::model::{self, Seasons};

/// A seasonal cycle the user can ask for explicitly.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Season {
    Daily,
    Weekly,
    Yearly,
}

impl Season {
    pub fn parse(text: &str) -> Option<Self> {
        Some(match text.trim() {
            "daily" | "day" => Season::Daily,
            "weekly" | "week" => Season::Weekly,
            "yearly" | "year" => Season::Yearly,
            _ => return None,
        })
    }
}

/// Which seasons to model: every one the history supports (`auto`), none (`none`), or exactly a
/// list (`weekly,yearly`), as a command line says it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Seasonality(pub Option<Vec<Season>>);

impl std::str::FromStr for Seasonality {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        match text.trim() {
            "auto" => Ok(Self(None)),
            "none" => Ok(Self(Some(Vec::new()))),
            list => list
                .split(',')
                .map(|s| {
                    Season::parse(s).ok_or_else(|| {
                        format!(
                            "{s:?} is not a season: auto, none, or a list of daily, weekly, yearly"
                        )
                    })
                })
                .collect::<Result<_, _>>()
                .map(|seasons| Self(Some(seasons))),
        }
    }
}

pub(crate) fn seasons_for(
    series: &Series,
    history: &History,
    requested: Option<&[Season]>,
) -> Result<Seasons, ForecastError> {
    let n = series.values.len();
    let step = history.step;
    let detected = history.grid.seasons(step, n);
    let Some(requested) = requested else {
        // Automatic: the day and week the history is long enough for, kept only when the
        // series repeats at them; the backtest then decides which models use them.
        return Ok(Seasons {
            day: detected
                .day
                .filter(|p| model::repeats_at(&series.values, *p)),
            week: detected
                .week
                .filter(|p| model::repeats_at(&series.values, *p)),
            year: detected
                .year
                .filter(|year| year_holds(&series.values, *year)),
        });
    };
    let per = |seconds: f64| seconds / step.as_secs_f64();
    let mut seasons = Seasons {
        day: None,
        week: None,
        year: None,
    };
    for season in requested {
        let (cycle, name, found) = match season {
            Season::Daily => (per(86_400.0), "daily", detected.day.map(|d| d as f64)),
            Season::Weekly => (
                per(7.0 * 86_400.0),
                "weekly",
                detected.week.map(|w| w as f64),
            ),
            Season::Yearly => (per(365.25 * 86_400.0), "yearly", detected.year),
        };
        let needed = if *season == Season::Yearly {
            (1.5 * cycle).ceil() as usize
        } else {
            (3.0 * cycle).ceil() as usize
        };
        if found.is_none() {
            return Err(ForecastError::TooShort {
                series: series.name.clone(),
                points: n,
                needed,
                why: if cycle < 2.0 {
                    format!("{name} seasonality needs samples finer than the cycle itself")
                } else {
                    format!(
                        "{name} seasonality needs {needed} samples ({} cycles) of history",
                        if *season == Season::Yearly {
                            "1.5"
                        } else {
                            "3"
                        }
                    )
                },
            });
        }
        match season {
            Season::Daily => seasons.day = detected.day,
            Season::Weekly => seasons.week = detected.week,
            Season::Yearly => seasons.year = detected.year,
        }
    }
    Ok(seasons)
}

/// Whether a detected year is kept as a season. For weekly, monthly and quarterly samples the
/// year is the cycle every seasonal model repeats, so a series that does not repeat at it
/// (sunspots, a share price, a table's size) is modelled without one rather than forced
/// through seasonal adjustment. The test needs cycles to tell a season from noise: with fewer
/// than six years (four years of monthly lung deaths failed it) the year is kept and the
/// backtest weighs the seasonal models. Daily and finer data keep it too: their yearly shape
/// is a few harmonics the backtest weighs, and day-to-day differences hide it from the test.
fn year_holds(y: &[f64], year: f64) -> bool {
    let period = year.round() as usize;
    year > 60.0 || y.len() < 6 * period || model::repeats_at(y, period)
}
