//! `orchsim characterize`: its arguments and printing; the measuring is
//! `orchsim_app::characterize`.

use std::path::PathBuf;

use orchsim_app::{Error, Source};

use crate::Format;

#[derive(clap::Args)]
pub struct CharacterizeArgs {
    /// A scenario (file or embedded name) with a [trace] table: the trace it replays is
    /// measured.
    scenario: String,
    /// Length of the arrival cycle fitted, s (a day by default).
    #[arg(long, default_value_t = orchsim_app::characterize::DAY_S)]
    period_s: f64,
    /// Write the [[workloads]] generators that draw from the measured shape here (TOML).
    #[arg(long)]
    out: Option<PathBuf>,
    #[arg(long, value_enum, default_value_t = Format::Table)]
    format: Format,
}

pub fn run(args: CharacterizeArgs) -> Result<(), Error> {
    let source = Source::resolve(Some(&args.scenario))?;
    let shape = orchsim_app::characterize::measure(&source, args.period_s)?;
    if let Some(out) = &args.out {
        orchsim_app::characterize::write_workloads(&shape, out)?;
    }
    let view = orchsim_app::characterize::view(&shape, args.out.as_deref())?;
    orchsim_app::render::print(&view, args.format.into())
}
