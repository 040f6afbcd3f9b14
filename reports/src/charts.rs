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

/// One line: points and, optionally, a band (x, low, high) drawn shaded behind it.
#[derive(Clone, Debug, PartialEq)]
pub struct Series {
    pub label: String,
    pub points: Vec<(f64, f64)>,
    pub band: Vec<(f64, f64, f64)>,
}

/// A chart: axes labelled with units, one legend entry per series.
#[derive(Clone, Debug, PartialEq)]
pub struct Chart {
    /// File stem, e.g. `wait-cdf`.
    pub name: String,
    pub title: String,
    pub x_label: String,
    pub y_label: String,
    pub series: Vec<Series>,
    /// Put the legend at the lower right (where a CDF or rising curve leaves room).
    pub legend_lower_right: bool,
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
    let (mut x0, mut x1) = xs.fold((f64::MAX, f64::MIN), |(a, b), x| (a.min(x), b.max(x)));
    let (mut y0, mut y1) = ys.fold((f64::MAX, f64::MIN), |(a, b), y| (a.min(y), b.max(y)));
    if x0 > x1 {
        (x0, x1) = (0.0, 1.0);
    }
    if y0 > y1 {
        (y0, y1) = (0.0, 1.0);
    }
    if x1 - x0 < 1e-12 {
        x1 = x0 + 1.0;
    }
    // Start y at zero for non-negative data, so bars of utilisation read honestly.
    y0 = y0.min(0.0);
    if y1 - y0 < 1e-12 {
        y1 = y0 + 1.0;
    }
    ((x0, x1), (y0, y1 + (y1 - y0) * 0.05))
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
    let ((x0, x1), (y0, y1)) = bounds(chart);
    let mut ctx = ChartBuilder::on(&root)
        .caption(&chart.title, (FONT, 22))
        .margin(12)
        .x_label_area_size(48)
        .y_label_area_size(72)
        .build_cartesian_2d(x0..x1, y0..y1)
        .map_err(&e)?;
    ctx.configure_mesh()
        .x_desc(&chart.x_label)
        .y_desc(&chart.y_label)
        .label_style((FONT, 14))
        .axis_desc_style((FONT, 16))
        .draw()
        .map_err(&e)?;
    for (i, s) in chart.series.iter().enumerate() {
        let color = Palette99::pick(i).to_rgba();
        if !s.band.is_empty() {
            let mut poly: Vec<(f64, f64)> = s.band.iter().map(|b| (b.0, b.2)).collect();
            poly.extend(s.band.iter().rev().map(|b| (b.0, b.1)));
            ctx.draw_series(std::iter::once(Polygon::new(
                poly,
                color.mix(0.18).filled(),
            )))
            .map_err(&e)?;
        }
        ctx.draw_series(LineSeries::new(
            s.points.iter().copied(),
            color.stroke_width(2),
        ))
        .map_err(&e)?
        .label(&s.label)
        .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], color.stroke_width(2)));
    }
    if chart.series.len() > 1 || chart.series.iter().any(|s| !s.label.is_empty()) {
        ctx.configure_series_labels()
            .background_style(WHITE.mix(0.85))
            .border_style(BLACK)
            .label_font((FONT, 14))
            .position(if chart.legend_lower_right {
                SeriesLabelPosition::LowerRight
            } else {
                SeriesLabelPosition::UpperRight
            })
            .draw()
            .map_err(&e)?;
    }
    root.present().map_err(&e)?;
    Ok(())
}

/// The chart as an SVG document.
pub fn svg(chart: &Chart) -> Result<String, ChartError> {
    register_font();
    let mut out = String::new();
    {
        let root = SVGBackend::with_string(&mut out, (WIDTH, HEIGHT)).into_drawing_area();
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
        let root = BitMapBackend::new(&png_path, (WIDTH, HEIGHT)).into_drawing_area();
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
         img{{max-width:100%;border:1px solid #ddd;margin:8px 0}}pre{{background:#f6f6f6;padding:8px;overflow:auto}}</style>\n\
         </head><body data-charts=\"{n}\">\n<h1>{t}</h1>\n",
        t = escape(title),
        n = charts.len()
    );
    for (name, table) in tables {
        let _ = write!(h, "<h2>{}</h2>\n<table><tr>", escape(name));
        for c in &table.columns {
            let _ = write!(h, "<th>{}</th>", escape(c));
        }
        h.push_str("</tr>\n");
        for row in &table.rows {
            h.push_str("<tr>");
            for cell in row {
                let _ = write!(h, "<td>{}</td>", escape(&cell.text()));
            }
            h.push_str("</tr>\n");
        }
        h.push_str("</table>\n");
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
        Chart {
            name: "t".into(),
            title: "Wait time CDF".into(),
            x_label: "wait (ms)".into(),
            y_label: "fraction of pods".into(),
            series: vec![Series {
                label: "first-fit".into(),
                points: vec![(0.0, 0.0), (10.0, 0.5), (20.0, 1.0)],
                band: vec![(0.0, 0.0, 0.1), (20.0, 0.9, 1.0)],
            }],
            legend_lower_right: true,
        }
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
}
