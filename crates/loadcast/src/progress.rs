//! Live progress: a bar on a terminal, plain lines in logs.

use std::io::IsTerminal as _;
use std::time::Duration;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use loadcast_engine::{Observer, Progress};
use loadcast_stats::format_duration;

use crate::cli::ProgressMode;

pub enum Display {
    Bar(ProgressBar),
    Lines,
    Off,
}

impl Display {
    pub fn new(mode: ProgressMode, planned: Duration) -> Self {
        let terminal = std::io::stderr().is_terminal();
        match mode {
            ProgressMode::Off => Display::Off,
            ProgressMode::Lines => Display::Lines,
            ProgressMode::Auto if !terminal => Display::Lines,
            ProgressMode::Auto | ProgressMode::Bar => {
                let bar = ProgressBar::with_draw_target(
                    Some(planned.as_secs().max(1)),
                    ProgressDrawTarget::stderr(),
                );
                bar.set_style(
                    ProgressStyle::with_template("{bar:30} {pos:>4}/{len}s  {msg}")
                        .expect("static template")
                        .progress_chars("█▉▊▋▌▍▎▏ "),
                );
                Display::Bar(bar)
            }
        }
    }

    pub fn finish(&self) {
        if let Display::Bar(bar) = self {
            bar.finish_and_clear();
        }
    }
}

impl Observer for Display {
    fn on_second(&mut self, p: &Progress<'_>) {
        let s = p.second;
        // The open model's schedule first (arrivals are iterations, each of one or more
        // requests), then what the target did with the requests.
        let schedule = if s.scheduled > 0 {
            format!("arrivals {:>5}/s due ({} late)  ", s.scheduled, s.late)
        } else {
            String::new()
        };
        let line = format!(
            "{schedule}requests {:>6}/s done  p50 {:>7}  p99 {:>7}  errors {} ({} this second)  \
             requests in flight {}",
            s.completed,
            format_duration(s.latency.quantile(0.5)),
            format_duration(s.latency.quantile(0.99)),
            p.errors,
            s.error_count(),
            s.in_flight,
        );
        match self {
            Display::Bar(bar) => {
                bar.set_position(p.elapsed.as_secs());
                bar.set_message(line);
            }
            Display::Lines => {
                eprintln!(
                    "[{:>4}s/{}s] {line}",
                    p.elapsed.as_secs(),
                    p.planned.as_secs()
                );
            }
            Display::Off => {}
        }
    }
}
