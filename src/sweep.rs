//! `orchsim sweep` and `orchsim merge`: their arguments, progress and printing; the work is
//! `orchsim_app::sweep`.

use std::path::PathBuf;

use orchsim_app::sweep::{self, SweepRequest};
use orchsim_app::{Error, Source};

#[derive(clap::Args)]
pub struct SweepArgs {
    /// A scenario file or embedded scenario name (default: quickstart).
    scenario: Option<String>,
    /// `path=v1,v2,…` or `path=start..end:step`; repeat for a grid (cross product).
    #[arg(long = "set", required = true)]
    sets: Vec<String>,
    /// Seeds per parameter combination: the scenario's seed, +1, +2, …
    #[arg(long, default_value_t = 1)]
    seeds: u64,
    /// Worker threads (default: all cores). Results do not depend on it.
    #[arg(long)]
    jobs: Option<usize>,
    /// Run only the I-th of N deterministic slices (1-based), e.g. `--shard 2/8`.
    #[arg(long)]
    shard: Option<String>,
    /// Output directory. Default: out/<scenario>-sweep (or …-shard-I-of-N). Finished runs
    /// are journaled there as they finish.
    #[arg(long)]
    out: Option<PathBuf>,
    /// Resume an interrupted sweep: keep the runs its journal in the output directory says
    /// finished and run only the others (the result is the same bytes as an uninterrupted
    /// sweep). A journal of a different sweep is refused.
    #[arg(long)]
    resume: bool,
    /// No progress bar.
    #[arg(long, short)]
    quiet: bool,
    /// Also write report.html with sweep curves (not for shards: report the merge instead).
    #[arg(long)]
    report: bool,
    /// How to print the result on stdout: in text the parameters and the means that vary;
    /// in JSON and CSV every column of sweep-summary.csv (a shard: sweep.csv).
    #[arg(long, value_enum, default_value_t = crate::Format::Table)]
    format: crate::Format,
}

#[derive(clap::Args)]
pub struct MergeArgs {
    /// Shard output directories (each with sweep.csv and shard.txt).
    #[arg(required = true)]
    dirs: Vec<PathBuf>,
    /// Where to write the merged sweep.csv and sweep-summary.csv.
    #[arg(long)]
    out: PathBuf,
    /// Also write report.html with sweep curves.
    #[arg(long)]
    report: bool,
}

pub fn sweep(args: SweepArgs) -> Result<u8, Error> {
    let source = Source::resolve(args.scenario.as_deref())?;
    if let Some(out) = &args.out {
        orchsim_app::outputs::check_not_input(out, &source.path().into_iter().collect::<Vec<_>>())?;
    }
    let req = SweepRequest {
        sets: args.sets,
        seeds: args.seeds,
        jobs: args.jobs,
        shard: args.shard,
        report: args.report,
        out: args.out,
        resume: args.resume,
    };
    let bar = crate::Bar::new(args.quiet);
    let outcome = sweep::sweep(&source, &req, &|p| bar.show(p))?;
    bar.finish();
    outcome.write()?;
    for f in &outcome.failures {
        eprintln!("orchsim: {f}");
    }
    orchsim_app::render::print(&outcome.view(), args.format.into())?;
    Ok(if outcome.failures.is_empty() {
        0
    } else {
        crate::exit::PARTIAL
    })
}

pub fn merge(args: MergeArgs) -> Result<(), Error> {
    let inputs: Vec<&std::path::Path> = args.dirs.iter().map(|d| d.as_path()).collect();
    orchsim_app::outputs::check_not_input(&args.out, &inputs)?;
    let merged = sweep::merge(&args.dirs, args.report)?;
    merged.write(&args.out)?;
    outln!(
        "merged {} shards ({} runs) into {}/{{sweep.csv, sweep-summary.csv}}",
        merged.shards,
        merged.runs,
        args.out.display()
    )?;
    Ok(())
}
