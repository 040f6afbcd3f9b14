//! Line charts (with optional confidence bands) rendered with plotters to SVG and PNG, and the
//! self-contained HTML report that embeds them.
//!
//! Text is drawn with DejaVu Sans embedded in the binary (the `dejavu` crate), so PNGs render
//! the same on a machine without fonts; the SVGs name the same family.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::sync::Once;

use base64::Engine as _;
use plotters::prelude::*;

use crate::Table;

const FONT: &str = "sans-serif";
const WIDTH: u32 = 900;
const HEIGHT: u32 = 480;

fn register_font() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        // The embedded font always parses; if it did not, text would be missing, not wrong.
        let _ = plotters::style::register_font(FONT, FontStyle::Normal, dejavu::sans::regular());
    });
}

/// How a series is drawn.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Style {
    /// A curve through its points, in order.
    #[default]
    Line,
    /// Separate measurements (a search's probes): markers, not joined.
    Points,
    /// A threshold: a dashed line.
    Limit,
}

/// One series: points and, optionally, a band (x, low, high) drawn shaded behind it.
#[derive(Clone, Debug, PartialEq)]
pub struct Series {
    pub label: String,
    pub points: Vec<(f64, f64)>,
    pub band: Vec<(f64, f64, f64)>,
    pub style: Style,
}

impl Series {
    /// A line through `points`, without a band.
    pub fn line(label: impl Into<String>, points: Vec<(f64, f64)>) -> Series {
        Series {
            label: label.into(),
            points,
            band: Vec::new(),
            style: Style::Line,
        }
    }
}

/// How an axis reads its values.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Axis {
    #[default]
    Linear,
    /// Counts: ticks at whole numbers only.
    Integer,
    /// The values are log10 of milliseconds: ticks at powers of ten, labelled as times
    /// (1 ms, 10 ms, …, 1 s, 10 s).
    LogMs,
    /// The values are log10 of seconds, labelled as times.
    LogS,
}

/// A chart: axes labelled with units, a legend below the plot (never over the data).
#[derive(Clone, Debug, PartialEq)]
pub struct Chart {
    /// File stem, e.g. `wait-cdf`.
    pub name: String,
    pub title: String,
    pub x_label: String,
    pub y_label: String,
    pub series: Vec<Series>,
    pub x_axis: Axis,
    pub y_axis: Axis,
    /// Start y at zero (amounts); `false` fits y to the data (a CDF that stays near one).
    pub y_from_zero: bool,
}

impl Chart {
    /// A chart with linear axes and y from zero.
    pub fn new(
        name: impl Into<String>,
        title: impl Into<String>,
        x_label: impl Into<String>,
        y_label: impl Into<String>,
        series: Vec<Series>,
    ) -> Chart {
        Chart {
            name: name.into(),
            title: title.into(),
            x_label: x_label.into(),
            y_label: y_label.into(),
            series,
            x_axis: Axis::Linear,
            y_axis: Axis::Linear,
            y_from_zero: true,
        }
    }

    pub fn with_x_axis(mut self, axis: Axis) -> Chart {
        self.x_axis = axis;
        self
    }

    pub fn with_y_axis(mut self, axis: Axis) -> Chart {
        self.y_axis = axis;
        self
    }

    /// Fits y to the data instead of starting it at zero.
    pub fn fit_y(mut self) -> Chart {
        self.y_from_zero = false;
        self
    }
}

/// A chart that could not be drawn.
#[derive(Debug)]
pub struct ChartError(pub String);

impl std::fmt::Display for ChartError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for ChartError {}

fn err<E: std::fmt::Display>(chart: &str) -> impl Fn(E) -> ChartError + '_ {
    move |e| ChartError(format!("chart `{chart}`: {e}"))
}

/// The range an axis shows for values from `lo` to `hi`.
fn range(lo: f64, hi: f64, axis: Axis, from_zero: bool) -> (f64, f64) {
    let (mut lo, mut hi) = if lo > hi { (0.0, 1.0) } else { (lo, hi) };
    match axis {
        // Whole decades, so every tick is a power of ten.
        Axis::LogMs | Axis::LogS => {
            lo = lo.floor();
            hi = hi.ceil().max(lo + 1.0);
        }
        Axis::Integer => {
            if from_zero {
                lo = lo.min(0.0);
            }
            lo = lo.floor();
            hi = hi.ceil().max(lo + 1.0);
        }
        Axis::Linear => {
            if from_zero {
                lo = lo.min(0.0);
            }
            if hi - lo < 1e-12 {
                // One value: show it inside a unit range (below it, when fitted, so a CDF
                // of equal waits sits at the top of 0–1).
                if from_zero {
                    hi = lo + 1.0;
                } else {
                    lo = hi - 1.0;
                }
            }
            // A margin above (and below data that does not start at zero) so nothing sits
            // on the frame.
            let pad = (hi - lo) * 0.05;
            hi += pad;
            if !from_zero {
                lo -= pad;
            }
        }
    }
    (lo, hi)
}

fn bounds(chart: &Chart) -> ((f64, f64), (f64, f64)) {
    let xs = chart.series.iter().flat_map(|s| {
        s.points
            .iter()
            .map(|p| p.0)
            .chain(s.band.iter().map(|b| b.0))
    });
    let ys = chart.series.iter().flat_map(|s| {
        s.points
            .iter()
            .map(|p| p.1)
            .chain(s.band.iter().flat_map(|b| [b.1, b.2]))
    });
    let (x0, x1) = xs
        .filter(|v| v.is_finite())
        .fold((f64::MAX, f64::MIN), |(a, b), x| (a.min(x), b.max(x)));
    let (y0, y1) = ys
        .filter(|v| v.is_finite())
        .fold((f64::MAX, f64::MIN), |(a, b), y| (a.min(y), b.max(y)));
    (
        range(x0, x1, chart.x_axis, false),
        range(y0, y1, chart.y_axis, chart.y_from_zero),
    )
}

/// A time in milliseconds as people write it.
fn time_label(ms: f64) -> String {
    let trim = |v: f64| {
        let t = format!("{v:.3}");
        t.trim_end_matches('0').trim_end_matches('.').to_string()
    };
    if ms < 1.0 {
        format!("{} µs", trim(ms * 1000.0))
    } else if ms < 1000.0 {
        format!("{} ms", trim(ms))
    } else {
        format!("{} s", trim(ms / 1000.0))
    }
}

/// A tick's label on `axis`; empty for a tick between whole numbers or decades.
fn tick_label(v: f64, axis: Axis) -> String {
    // A tick at -0 reads as 0.
    let v = if v == 0.0 { 0.0 } else { v };
    let whole = (v - v.round()).abs() < 1e-6;
    match axis {
        Axis::LogMs if whole => time_label(10f64.powf(v.round())),
        Axis::LogS if whole => time_label(10f64.powf(v.round()) * 1000.0),
        Axis::Integer if whole => format!("{}", v.round()),
        Axis::LogMs | Axis::LogS | Axis::Integer => String::new(),
        Axis::Linear => {
            let a = v.abs();
            let t = if a >= 100.0 || a == 0.0 {
                format!("{v:.0}")
            } else if a >= 1.0 {
                format!("{v:.2}")
            } else {
                format!("{v:.3}")
            };
            if t.contains('.') {
                t.trim_end_matches('0').trim_end_matches('.').to_string()
            } else {
                t
            }
        }
    }
}

/// How many ticks to ask for on `axis` over `(lo, hi)`: one per decade or whole number when
/// they are few, so each lands on one.
fn ticks(axis: Axis, (lo, hi): (f64, f64)) -> usize {
    match axis {
        Axis::Linear => 10,
        _ => {
            let span = (hi - lo).round();
            if span.is_finite() && span <= 11.0 {
                span as usize + 1
            } else {
                // Every k-th whole number: plotters picks round steps.
                10
            }
        }
    }
}

/// The height of a legend row below the plot.
const LEGEND_ROW: u32 = 24;

/// Where each labelled series' legend entry goes: (series, x, row), entries flowing left to
/// right and wrapping before the edge. Text width is estimated from the 14 px font (about
/// 8 px a character, generous so entries never overlap).
fn legend_layout(chart: &Chart) -> Vec<(usize, i32, u32)> {
    let mut out = Vec::new();
    let (mut x, mut row) = (20i32, 0u32);
    for (i, s) in chart.series.iter().enumerate() {
        if s.label.is_empty() {
            continue;
        }
        let w = 32 + 8 * s.label.chars().count() as i32 + 24;
        if x > 20 && x + w > WIDTH as i32 - 20 {
            x = 20;
            row += 1;
        }
        out.push((i, x, row));
        x += w;
    }
    out
}

fn legend_height(chart: &Chart) -> u32 {
    match legend_layout(chart).last() {
        None => 0,
        Some(&(_, _, row)) => 12 + LEGEND_ROW * (row + 1),
    }
}

fn draw<DB: DrawingBackend>(
    chart: &Chart,
    root: DrawingArea<DB, plotters::coord::Shift>,
) -> Result<(), ChartError>
where
    DB::ErrorType: 'static,
{
    let e = err(&chart.name);
    root.fill(&WHITE).map_err(&e)?;
    let legend_h = legend_height(chart);
    let (plot, legend) = root.split_vertically(HEIGHT);
    let ((x0, x1), (y0, y1)) = bounds(chart);
    let mut ctx = ChartBuilder::on(&plot)
        .caption(&chart.title, (FONT, 22))
        .margin(12)
        // Room for the last tick's label.
        .margin_right(40)
        .x_label_area_size(48)
        .y_label_area_size(80)
        .build_cartesian_2d(x0..x1, y0..y1)
        .map_err(&e)?;
    let (xa, ya) = (chart.x_axis, chart.y_axis);
    let x_fmt = move |v: &f64| tick_label(*v, xa);
    let y_fmt = move |v: &f64| tick_label(*v, ya);
    ctx.configure_mesh()
        .x_desc(&chart.x_label)
        .y_desc(&chart.y_label)
        .x_labels(ticks(xa, (x0, x1)))
        .y_labels(ticks(ya, (y0, y1)))
        .x_label_formatter(&x_fmt)
        .y_label_formatter(&y_fmt)
        .label_style((FONT, 14))
        .axis_desc_style((FONT, 16))
        .draw()
        .map_err(&e)?;
    let color_of = |i: usize| Palette99::pick(i).to_rgba();
    for (i, s) in chart.series.iter().enumerate() {
        let color = color_of(i);
        if !s.band.is_empty() {
            let mut poly: Vec<(f64, f64)> = s.band.iter().map(|b| (b.0, b.2)).collect();
            poly.extend(s.band.iter().rev().map(|b| (b.0, b.1)));
            ctx.draw_series(std::iter::once(Polygon::new(
                poly,
                color.mix(0.18).filled(),
            )))
            .map_err(&e)?;
        }
        match s.style {
            Style::Line => {
                ctx.draw_series(LineSeries::new(
                    s.points.iter().copied(),
                    color.stroke_width(2),
                ))
                .map_err(&e)?;
            }
            Style::Points => {
                ctx.draw_series(s.points.iter().map(|&p| Circle::new(p, 4, color.filled())))
                    .map_err(&e)?;
            }
            Style::Limit => {
                ctx.draw_series(DashedLineSeries::new(
                    s.points.iter().copied(),
                    10,
                    6,
                    color.stroke_width(2),
                ))
                .map_err(&e)?;
            }
        }
    }
    if legend_h > 0 {
        for (i, x, row) in legend_layout(chart) {
            let s = &chart.series[i];
            let color = color_of(i);
            let y = 6 + (row * LEGEND_ROW + LEGEND_ROW / 2) as i32;
            match s.style {
                Style::Points => legend
                    .draw(&Circle::new((x + 12, y), 4, color.filled()))
                    .map_err(&e)?,
                _ => legend
                    .draw(&PathElement::new(
                        vec![(x, y), (x + 24, y)],
                        color.stroke_width(if s.style == Style::Limit { 1 } else { 3 }),
                    ))
                    .map_err(&e)?,
            }
            let text = Text::new(
                s.label.clone(),
                (x + 32, y - 8),
                (FONT, 14).into_font().color(&BLACK),
            );
            legend.draw(&text).map_err(&e)?;
        }
    }
    root.present().map_err(&e)?;
    Ok(())
}

/// The chart as an SVG document.
pub fn svg(chart: &Chart) -> Result<String, ChartError> {
    register_font();
    let mut out = String::new();
    {
        let size = (WIDTH, HEIGHT + legend_height(chart));
        let root = SVGBackend::with_string(&mut out, size).into_drawing_area();
        draw(chart, root)?;
    }
    Ok(out)
}

/// Writes the chart as `<dir>/<name>.svg` and `<dir>/<name>.png`; returns both paths.
pub fn write(chart: &Chart, dir: &Path) -> Result<(PathBuf, PathBuf), ChartError> {
    register_font();
    let svg_path = dir.join(format!("{}.svg", chart.name));
    let png_path = dir.join(format!("{}.png", chart.name));
    std::fs::write(&svg_path, svg(chart)?).map_err(err(&chart.name))?;
    {
        let size = (WIDTH, HEIGHT + legend_height(chart));
        let root = BitMapBackend::new(&png_path, size).into_drawing_area();
        draw(chart, root)?;
    }
    Ok((svg_path, png_path))
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// Rows past which a table is folded (a `<details>` the reader opens).
const FOLD_ROWS: usize = 12;

/// A table that reads at a glance: one row is shown as name/value pairs (a run summary is 28
/// columns wide); several rows start with the columns that vary, the constant ones after
/// them; a long table is folded; a wide one scrolls inside the page.
fn html_table(h: &mut String, table: &Table) {
    let cell = |r: usize, c: usize| escape(&table.rows[r][c].text());
    if table.rows.len() == 1 {
        h.push_str("<table>");
        for (c, name) in table.columns.iter().enumerate() {
            let _ = write!(
                h,
                "<tr><th>{}</th><td>{}</td></tr>",
                escape(name),
                cell(0, c)
            );
        }
        h.push_str("</table>\n");
        return;
    }
    let varies = |c: usize| table.rows.iter().any(|r| r[c] != table.rows[0][c]);
    let mut order: Vec<usize> = (0..table.columns.len()).filter(|&c| varies(c)).collect();
    order.extend((0..table.columns.len()).filter(|&c| !varies(c)));
    let fold = table.rows.len() > FOLD_ROWS;
    if fold {
        let _ = writeln!(
            h,
            "<details><summary>{} rows (the columns that vary first)</summary>",
            table.rows.len()
        );
    }
    h.push_str("<div class=\"wide\"><table><tr>");
    for &c in &order {
        let _ = write!(h, "<th>{}</th>", escape(&table.columns[c]));
    }
    h.push_str("</tr>\n");
    for r in 0..table.rows.len() {
        h.push_str("<tr>");
        for &c in &order {
            let _ = write!(h, "<td>{}</td>", cell(r, c));
        }
        h.push_str("</tr>\n");
    }
    h.push_str("</table></div>\n");
    if fold {
        h.push_str("</details>\n");
    }
}

/// A self-contained HTML page: title, tables, charts (SVG embedded as data URIs, so the page
/// needs no network and no other file) and a preformatted source (the scenario). The page
/// records how many images loaded in `data-images-loaded` on `<body>`, for the browser test.
pub fn html(
    title: &str,
    tables: &[(&str, &Table)],
    charts: &[Chart],
    source: &str,
) -> Result<String, ChartError> {
    let mut h = String::new();
    let _ = write!(
        h,
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>{t}</title>\n<style>\
         body{{font-family:sans-serif;margin:2em;max-width:1000px}}table{{border-collapse:collapse;font-size:13px}}\
         td,th{{border:1px solid #ccc;padding:2px 6px;text-align:right}}th{{background:#eee}}\
         img{{max-width:100%;border:1px solid #ddd;margin:8px 0}}.wide{{overflow-x:auto;max-width:100%}}\
         summary{{cursor:pointer;margin:4px 0}}pre{{background:#f6f6f6;padding:8px;overflow:auto}}</style>\n\
         </head><body data-charts=\"{n}\">\n<h1>{t}</h1>\n",
        t = escape(title),
        n = charts.len()
    );
    for (name, table) in tables {
        let _ = writeln!(h, "<h2>{}</h2>", escape(name));
        html_table(&mut h, table);
    }
    for c in charts {
        let data = base64::engine::general_purpose::STANDARD.encode(svg(c)?);
        let _ = write!(
            h,
            "<h2>{}</h2>\n<img class=\"chart\" alt=\"{}\" src=\"data:image/svg+xml;base64,{data}\">\n",
            escape(&c.title),
            escape(&c.title)
        );
    }
    if !source.is_empty() {
        let _ = write!(h, "<h2>Input</h2>\n<pre>{}</pre>\n", escape(source));
    }
    h.push_str(
        "<script>window.addEventListener('load',function(){var n=0;document.querySelectorAll('img.chart')\
         .forEach(function(i){if(i.complete&&i.naturalWidth>0)n++;});document.body.setAttribute('data-images-loaded',n);});</script>\n\
         </body></html>\n",
    );
    Ok(h)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chart() -> Chart {
        Chart::new(
            "t",
            "Wait time CDF",
            "wait (ms)",
            "fraction of pods",
            vec![Series {
                label: "first-fit".into(),
                points: vec![(0.0, 0.0), (10.0, 0.5), (20.0, 1.0)],
                band: vec![(0.0, 0.0, 0.1), (20.0, 0.9, 1.0)],
                style: Style::Line,
            }],
        )
    }

    #[test]
    fn log_axes_are_labelled_as_times_and_counts_as_whole_numbers() {
        assert_eq!(tick_label(0.0, Axis::LogMs), "1 ms");
        assert_eq!(tick_label(3.0, Axis::LogMs), "1 s");
        assert_eq!(tick_label(-2.0, Axis::LogMs), "10 µs");
        assert_eq!(tick_label(4.0, Axis::LogMs), "10 s");
        assert_eq!(tick_label(0.5, Axis::LogMs), "");
        assert_eq!(tick_label(-1.0, Axis::LogS), "100 ms");
        assert_eq!(tick_label(9.5, Axis::Integer), "");
        assert_eq!(tick_label(10.0, Axis::Integer), "10");
        assert_eq!(tick_label(0.25, Axis::Linear), "0.25");
        assert_eq!(tick_label(1500.0, Axis::Linear), "1500");
        assert_eq!(tick_label(-0.0, Axis::Linear), "0");
        assert_eq!(tick_label(-0.0, Axis::Integer), "0");
        // Decades whole; a CDF near one is fitted, not squashed into the top of 0–1.
        assert_eq!(range(-0.3, 4.2, Axis::LogMs, false), (-1.0, 5.0));
        let (lo, hi) = range(0.94, 1.0, Axis::Linear, false);
        assert!(lo > 0.9 && lo < 0.94 && hi > 1.0 && hi < 1.01, "{lo} {hi}");
        assert_eq!(range(0.94, 1.0, Axis::Linear, true).0, 0.0);
    }

    #[test]
    fn the_legend_sits_below_the_plot_and_grows_with_the_series() {
        let mut c = chart();
        assert_eq!(legend_height(&c), 12 + LEGEND_ROW);
        for i in 0..4 {
            c.series.push(Series::line(
                format!("a long series label {i}"),
                vec![(0.0, 1.0)],
            ));
        }
        assert_eq!(legend_height(&c), 12 + 2 * LEGEND_ROW);
        // Entries on one row never overlap.
        let layout = legend_layout(&c);
        for w in layout.windows(2).filter(|w| w[0].2 == w[1].2) {
            let label = &c.series[w[0].0].label;
            assert!(w[1].1 >= w[0].1 + 32 + 8 * label.len() as i32);
        }
        let s = svg(&c).unwrap();
        assert!(
            s.contains(&format!("height=\"{}\"", HEIGHT + legend_height(&c))),
            "{}",
            &s[..200]
        );
    }

    #[test]
    fn svg_has_axes_labels_and_legend() {
        let s = svg(&chart()).unwrap();
        assert!(s.starts_with("<svg"));
        for want in [
            "Wait time CDF",
            "wait (ms)",
            "fraction of pods",
            "first-fit",
        ] {
            assert!(s.contains(want), "missing {want}");
        }
    }

    #[test]
    fn png_is_written_and_html_embeds_every_chart() {
        let dir = std::env::temp_dir().join(format!("orchsim-chart-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let (svg_path, png_path) = write(&chart(), &dir).unwrap();
        let png = std::fs::read(&png_path).unwrap();
        assert_eq!(&png[1..4], b"PNG");
        assert!(svg_path.exists());
        let mut t = Table::new(["a"]);
        t.push(vec![crate::Cell::Str("<b>".into())]).unwrap();
        let page = html("Report", &[("summary", &t)], &[chart(), chart()], "x < y").unwrap();
        assert_eq!(page.matches("data:image/svg+xml;base64,").count(), 2);
        assert!(page.contains("&lt;b&gt;") && page.contains("x &lt; y"));
        assert!(
            !page.contains("http://") && !page.contains("https://"),
            "self-contained"
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn tables_show_one_row_as_pairs_varying_columns_first_and_fold_long_ones() {
        use crate::Cell;
        let mut one = Table::new(["scenario", "hosts"]);
        one.push(vec![Cell::Str("q".into()), Cell::UInt(20)])
            .unwrap();
        let mut h = String::new();
        html_table(&mut h, &one);
        assert!(h.contains("<tr><th>hosts</th><td>20</td></tr>"), "{h}");
        let mut many = Table::new(["constant", "x"]);
        for i in 0..20u64 {
            many.push(vec![Cell::Str("same".into()), Cell::UInt(i)])
                .unwrap();
        }
        let mut h = String::new();
        html_table(&mut h, &many);
        assert!(h.contains("<tr><th>x</th><th>constant</th></tr>"), "{h}");
        assert!(h.starts_with("<details><summary>20 rows"), "{h}");
    }
}
