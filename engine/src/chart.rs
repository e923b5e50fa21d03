//! Charts as SVG (plotters with a bundled DejaVu Sans font, so that no
//! system font library is needed), and number formats for people: calendar
//! years, thousands separators, £m and £bn.

use crate::error::{Error, Result};
use plotters::prelude::*;
use std::sync::Once;

static FONT: Once = Once::new();

/// The bundled font (DejaVu Sans; licence in `assets/fonts/`).
const DEJAVU_SANS: &[u8] = include_bytes!("../assets/fonts/DejaVuSans.ttf");

fn register_font() {
    FONT.call_once(|| {
        // The bundled font is valid, so this cannot fail; if it somehow did,
        // charts would fail with a clear error when drawing text.
        let _ = plotters::style::register_font("sans-serif", FontStyle::Normal, DEJAVU_SANS);
    });
}

/// A number with thousands separators: `83750` → `83,750`; values below
/// 100 keep up to one decimal (`16.6`).
pub fn thousands(v: f64) -> String {
    if !v.is_finite() {
        return v.to_string();
    }
    if v.abs() < 100.0 && v.fract() != 0.0 {
        return format!("{v:.1}");
    }
    let rounded = v.round() as i64;
    let digits = rounded.unsigned_abs().to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    if rounded < 0 { format!("-{out}") } else { out }
}

/// Money given in £ million, for people: `£850m`, `£2.85bn`, `-£120m`.
pub fn money_m(v: f64) -> String {
    let sign = if v < 0.0 { "-" } else { "" };
    let a = v.abs();
    if a >= 1000.0 {
        format!("{sign}£{:.2}bn", a / 1000.0)
    } else if a >= 10.0 {
        format!("{sign}£{}m", thousands(a.round()))
    } else {
        format!("{sign}£{a:.1}m")
    }
}

fn chart_error(e: impl std::fmt::Display) -> Error {
    Error::Invalid {
        what: "chart".into(),
        message: e.to_string(),
    }
}

/// Width and height of a chart in pixels.
const SIZE: (u32, u32) = (720, 400);

/// The output format of a chart.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// Scalable vector graphics (text).
    Svg,
    /// A PNG image.
    Png,
}

/// Something drawn on a chart, on any plotters backend.
trait Drawing {
    fn draw<DB: DrawingBackend>(&self, root: DrawingArea<DB, plotters::coord::Shift>)
    -> Result<()>;
}

/// Renders a drawing in the chosen format.
/// The legend every line chart shares: lower right, on a pale background.
fn draw_legend<'a, DB: DrawingBackend + 'a>(
    chart: &mut ChartContext<
        'a,
        DB,
        Cartesian2d<plotters::coord::types::RangedCoordf64, plotters::coord::types::RangedCoordf64>,
    >,
) -> Result<()> {
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::LowerRight)
        .background_style(WHITE.mix(0.9))
        .border_style(BLACK.mix(0.3))
        .label_font(("sans-serif", 13))
        .draw()
        .map_err(chart_error)
}

fn render(format: Format, drawing: &impl Drawing) -> Result<Vec<u8>> {
    register_font();
    match format {
        Format::Svg => {
            let mut svg = String::new();
            drawing.draw(SVGBackend::with_string(&mut svg, SIZE).into_drawing_area())?;
            Ok(svg.into_bytes())
        }
        Format::Png => {
            let (w, h) = SIZE;
            let mut rgb = vec![255u8; (w * h * 3) as usize];
            drawing.draw(BitMapBackend::with_buffer(&mut rgb, SIZE).into_drawing_area())?;
            let mut png_bytes = Vec::new();
            let mut encoder = png::Encoder::new(&mut png_bytes, w, h);
            encoder.set_color(png::ColorType::Rgb);
            encoder.set_depth(png::BitDepth::Eight);
            let mut writer = encoder.write_header().map_err(chart_error)?;
            writer.write_image_data(&rgb).map_err(chart_error)?;
            writer.finish().map_err(chart_error)?;
            Ok(png_bytes)
        }
    }
}

/// A line of model values against published points, by year: the model as
/// a line, the data as dots. `money` labels the axis in £m/£bn.
///
/// # Errors
///
/// [`Error::Invalid`] if plotting fails (no points, or the font cannot be
/// used).
pub fn model_vs_observed(
    title: &str,
    model: &[(f64, f64)],
    observed: &[(f64, f64)],
    money: bool,
) -> Result<String> {
    let bytes = model_vs_observed_as(Format::Svg, title, model, observed, money)?;
    Ok(String::from_utf8(bytes).expect("SVG is text"))
}

/// [`model_vs_observed`] in either format.
///
/// # Errors
///
/// As [`model_vs_observed`].
pub fn model_vs_observed_as(
    format: Format,
    title: &str,
    model: &[(f64, f64)],
    observed: &[(f64, f64)],
    money: bool,
) -> Result<Vec<u8>> {
    let (mut x0, mut x1, mut y1) = (f64::INFINITY, f64::NEG_INFINITY, 0.0f64);
    for &(x, y) in model.iter().chain(observed) {
        x0 = x0.min(x);
        x1 = x1.max(x);
        y1 = y1.max(y);
    }
    if !x0.is_finite() || !x1.is_finite() {
        return Err(chart_error(format!("`{title}` has nothing to plot")));
    }
    if x1 <= x0 {
        x1 = x0 + 1.0;
    }
    let y1 = if y1 > 0.0 { y1 * 1.1 } else { 1.0 };
    let x0 = x0.floor();
    let x1 = x1.ceil();
    render(
        format,
        &DrawLines {
            title,
            model,
            observed,
            money,
            x: (x0, x1),
            y1,
        },
    )
}

/// What [`model_vs_observed_as`] draws, on any backend.
struct DrawLines<'a> {
    title: &'a str,
    model: &'a [(f64, f64)],
    observed: &'a [(f64, f64)],
    money: bool,
    x: (f64, f64),
    y1: f64,
}

impl Drawing for DrawLines<'_> {
    fn draw<DB: DrawingBackend>(
        &self,
        root: DrawingArea<DB, plotters::coord::Shift>,
    ) -> Result<()> {
        let (x0, x1) = self.x;
        let money = self.money;
        root.fill(&WHITE).map_err(chart_error)?;
        let mut chart = ChartBuilder::on(&root)
            .caption(self.title, ("sans-serif", 20))
            .margin(12)
            .margin_right(28)
            .x_label_area_size(36)
            .y_label_area_size(80)
            .build_cartesian_2d(x0..x1, 0.0..self.y1)
            .map_err(chart_error)?;
        chart
            .configure_mesh()
            .x_labels((x1 - x0).round() as usize + 1)
            .x_label_formatter(&|x| format!("{}", x.round() as i64))
            .y_label_formatter(&|y| if money { money_m(*y) } else { thousands(*y) })
            .label_style(("sans-serif", 13))
            .light_line_style(WHITE.mix(0.0))
            .draw()
            .map_err(chart_error)?;
        let blue = RGBColor(31, 94, 168);
        chart
            .draw_series(LineSeries::new(
                self.model.iter().copied(),
                blue.stroke_width(2),
            ))
            .map_err(chart_error)?
            .label("model")
            .legend(move |(x, y)| {
                PathElement::new(vec![(x, y), (x + 18, y)], blue.stroke_width(2))
            });
        let orange = RGBColor(214, 96, 28);
        chart
            .draw_series(
                self.observed
                    .iter()
                    .map(|&(x, y)| Circle::new((x, y), 4, orange.filled())),
            )
            .map_err(chart_error)?
            .label("published")
            .legend(move |(x, y)| Circle::new((x + 9, y), 4, orange.filled()));
        draw_legend(&mut chart)?;
        root.present().map_err(chart_error)?;
        Ok(())
    }
}

/// One scenario's band of an indicator over time: for each year the 5th,
/// 25th, 50th, 75th and 95th percentiles.
#[derive(Debug, Clone, PartialEq)]
pub struct Fan {
    /// The scenario's name (the legend).
    pub label: String,
    /// (year, [p5, p25, p50, p75, p95]).
    pub points: Vec<(f64, [f64; 5])>,
}

/// Colours for successive scenarios.
const PALETTE: [RGBColor; 6] = [
    RGBColor(31, 94, 168),
    RGBColor(214, 96, 28),
    RGBColor(46, 139, 87),
    RGBColor(148, 62, 150),
    RGBColor(160, 120, 20),
    RGBColor(90, 90, 90),
];

/// A fan chart of one indicator for one or more scenarios: P5-P95 and
/// P25-P75 bands and the median line, by year, with a legend for the bands.
/// One scenario's bands are shaded; with several, only the middle half is
/// shaded and the 90% band is drawn as thin lines in the scenario's colour,
/// so that overlapping fans stay distinguishable. With `zero_line` a
/// horizontal line marks zero (for a paired difference, ALT minus BASE).
///
/// # Errors
///
/// [`Error::Invalid`] if there is nothing to plot or plotting fails.
pub fn fan_chart(
    format: Format,
    title: &str,
    y_label: &str,
    fans: &[Fan],
    money: bool,
    zero_line: bool,
) -> Result<Vec<u8>> {
    fans_and_points(format, title, y_label, fans, &[], money, zero_line, true)
}

/// Forecasts against what happened: a fan per forecast (e.g. one per
/// origin of a backtest) and the observed values as black dots, labelled
/// `observed`.
///
/// # Errors
///
/// [`Error::Invalid`] if there is nothing to plot or plotting fails.
pub fn forecasts_against_outturns(
    format: Format,
    title: &str,
    y_label: &str,
    fans: &[Fan],
    observed: &[(f64, f64)],
) -> Result<Vec<u8>> {
    fans_and_points(format, title, y_label, fans, observed, false, false, false)
}

#[allow(clippy::too_many_arguments)]
fn fans_and_points(
    format: Format,
    title: &str,
    y_label: &str,
    fans: &[Fan],
    dots: &[(f64, f64)],
    money: bool,
    zero_line: bool,
    band_legend: bool,
) -> Result<Vec<u8>> {
    let as_quantiles: Vec<(f64, [f64; 5])> = dots.iter().map(|&(x, y)| (x, [y; 5])).collect();
    let all = fans
        .iter()
        .flat_map(|f| f.points.iter())
        .chain(as_quantiles.iter());
    let (mut x0, mut x1) = (f64::INFINITY, f64::NEG_INFINITY);
    let (mut y0, mut y1) = (f64::INFINITY, f64::NEG_INFINITY);
    for (x, q) in all {
        x0 = x0.min(*x);
        x1 = x1.max(*x);
        for v in q.iter().filter(|v| v.is_finite()) {
            y0 = y0.min(*v);
            y1 = y1.max(*v);
        }
    }
    if !(x0.is_finite() && y0.is_finite()) {
        return Err(chart_error(format!("`{title}` has nothing to plot")));
    }
    // A difference includes zero; a level shows its own range, so that
    // scenarios can be told apart (the axis says where it starts).
    if zero_line {
        y0 = y0.min(0.0);
        y1 = y1.max(0.0);
    }
    let pad = (y1 - y0).max(1e-9 * y1.abs().max(1.0)) * 0.1;
    let (y0, y1) = (
        if !zero_line && y0 >= 0.0 {
            (y0 - pad).max(0.0)
        } else {
            y0 - pad
        },
        y1 + pad,
    );
    if x1 <= x0 {
        x1 = x0 + 1.0;
    }
    render(
        format,
        &DrawFans {
            title,
            y_label,
            fans,
            dots,
            money,
            zero_line,
            band_legend,
            x: (x0.floor(), x1.ceil()),
            y: (y0, y1),
        },
    )
}

struct DrawFans<'a> {
    title: &'a str,
    y_label: &'a str,
    fans: &'a [Fan],
    dots: &'a [(f64, f64)],
    money: bool,
    zero_line: bool,
    /// Say what the bands are in the legend, and draw several fans' outer
    /// bands as lines (see [`fan_chart`]).
    band_legend: bool,
    x: (f64, f64),
    y: (f64, f64),
}

impl Drawing for DrawFans<'_> {
    fn draw<DB: DrawingBackend>(
        &self,
        root: DrawingArea<DB, plotters::coord::Shift>,
    ) -> Result<()> {
        let money = self.money;
        root.fill(&WHITE).map_err(chart_error)?;
        let mut chart = ChartBuilder::on(&root)
            .caption(self.title, ("sans-serif", 20))
            .margin(12)
            .margin_right(28)
            .x_label_area_size(36)
            .y_label_area_size(90)
            .build_cartesian_2d(self.x.0..self.x.1, self.y.0..self.y.1)
            .map_err(chart_error)?;
        chart
            .configure_mesh()
            .x_labels((self.x.1 - self.x.0).round() as usize + 1)
            .x_label_formatter(&|x| format!("{}", x.round() as i64))
            .y_label_formatter(&|y| if money { money_m(*y) } else { thousands(*y) })
            .y_desc(self.y_label)
            .label_style(("sans-serif", 13))
            .axis_desc_style(("sans-serif", 13))
            .light_line_style(WHITE.mix(0.0))
            .draw()
            .map_err(chart_error)?;
        if self.zero_line {
            chart
                .draw_series(LineSeries::new(
                    [(self.x.0, 0.0), (self.x.1, 0.0)],
                    BLACK.stroke_width(1),
                ))
                .map_err(chart_error)?;
        }
        // Several fans overlap: shading all their 90% bands would blend
        // them into one colour, so their outer bands are lines instead.
        let outlined = self.band_legend && self.fans.len() > 1;
        for (k, fan) in self.fans.iter().enumerate() {
            let colour = PALETTE[k % PALETTE.len()];
            let band = |lo: usize, hi: usize| -> Vec<(f64, f64)> {
                let mut poly: Vec<(f64, f64)> =
                    fan.points.iter().map(|(x, q)| (*x, q[hi])).collect();
                poly.extend(fan.points.iter().rev().map(|(x, q)| (*x, q[lo])));
                poly
            };
            if outlined {
                for q in [0, 4] {
                    chart
                        .draw_series(LineSeries::new(
                            fan.points.iter().map(|(x, v)| (*x, v[q])),
                            colour.mix(0.8).stroke_width(1),
                        ))
                        .map_err(chart_error)?;
                }
            } else {
                chart
                    .draw_series(std::iter::once(Polygon::new(
                        band(0, 4),
                        colour.mix(0.15).filled(),
                    )))
                    .map_err(chart_error)?;
            }
            chart
                .draw_series(std::iter::once(Polygon::new(
                    band(1, 3),
                    colour.mix(if outlined { 0.22 } else { 0.3 }).filled(),
                )))
                .map_err(chart_error)?;
            chart
                .draw_series(LineSeries::new(
                    fan.points.iter().map(|(x, q)| (*x, q[2])),
                    colour.stroke_width(2),
                ))
                .map_err(chart_error)?
                .label(if self.band_legend {
                    format!("{}, median", fan.label)
                } else {
                    fan.label.clone()
                })
                .legend(move |(x, y)| {
                    PathElement::new(vec![(x, y), (x + 18, y)], colour.stroke_width(2))
                });
        }
        if self.band_legend {
            // What the bands are, in the first scenario's colour (one fan)
            // or in grey (several).
            let key = if outlined {
                RGBColor(110, 110, 110)
            } else {
                PALETTE[0]
            };
            let none = std::iter::empty::<Circle<(f64, f64), i32>>;
            chart
                .draw_series(none())
                .map_err(chart_error)?
                .label("middle 50% of runs")
                .legend(move |(x, y)| {
                    Rectangle::new(
                        [(x, y - 5), (x + 18, y + 5)],
                        key.mix(if outlined { 0.22 } else { 0.3 }).filled(),
                    )
                });
            if outlined {
                chart
                    .draw_series(none())
                    .map_err(chart_error)?
                    .label("90% of runs (thin lines)")
                    .legend(move |(x, y)| {
                        PathElement::new(vec![(x, y), (x + 18, y)], key.stroke_width(1))
                    });
            } else {
                chart
                    .draw_series(none())
                    .map_err(chart_error)?
                    .label("90% of runs")
                    .legend(move |(x, y)| {
                        Rectangle::new([(x, y - 5), (x + 18, y + 5)], key.mix(0.15).filled())
                    });
            }
        }
        if !self.dots.is_empty() {
            chart
                .draw_series(
                    self.dots
                        .iter()
                        .map(|&(x, y)| Circle::new((x, y), 4, BLACK.filled())),
                )
                .map_err(chart_error)?
                .label("observed")
                .legend(|(x, y)| Circle::new((x + 9, y), 4, BLACK.filled()));
        }
        draw_legend(&mut chart)?;
        root.present().map_err(chart_error)?;
        Ok(())
    }
}

/// A histogram of shares by category (e.g. the break-even year, with a
/// last bar for "not within the horizon"), as percentages.
///
/// # Errors
///
/// [`Error::Invalid`] if there are no bars or plotting fails.
pub fn share_histogram(format: Format, title: &str, bars: &[(String, f64)]) -> Result<Vec<u8>> {
    if bars.is_empty() {
        return Err(chart_error(format!("`{title}` has no bars")));
    }
    render(format, &DrawBars { title, bars })
}

struct DrawBars<'a> {
    title: &'a str,
    bars: &'a [(String, f64)],
}

impl Drawing for DrawBars<'_> {
    fn draw<DB: DrawingBackend>(
        &self,
        root: DrawingArea<DB, plotters::coord::Shift>,
    ) -> Result<()> {
        root.fill(&WHITE).map_err(chart_error)?;
        let n = self.bars.len();
        let top = self
            .bars
            .iter()
            .map(|(_, v)| *v)
            .fold(0.0, f64::max)
            .max(0.01)
            * 110.0;
        let mut chart = ChartBuilder::on(&root)
            .caption(self.title, ("sans-serif", 20))
            .margin(12)
            .x_label_area_size(40)
            .y_label_area_size(60)
            .build_cartesian_2d(0.0..n as f64, 0.0..top)
            .map_err(chart_error)?;
        let labels: Vec<String> = self.bars.iter().map(|(l, _)| l.clone()).collect();
        chart
            .configure_mesh()
            .disable_x_mesh()
            .x_labels(n * 2 + 1)
            .x_label_formatter(&|x| {
                let i = x.floor() as usize;
                if (x - i as f64 - 0.5).abs() < 0.01 && i < labels.len() {
                    labels[i].clone()
                } else {
                    String::new()
                }
            })
            .y_label_formatter(&|y| format!("{y:.0}%"))
            .y_desc("share of runs")
            .label_style(("sans-serif", 13))
            .axis_desc_style(("sans-serif", 13))
            .light_line_style(WHITE.mix(0.0))
            .draw()
            .map_err(chart_error)?;
        let colour = PALETTE[0];
        chart
            .draw_series(self.bars.iter().enumerate().map(|(i, (_, v))| {
                Rectangle::new(
                    [(i as f64 + 0.15, 0.0), (i as f64 + 0.85, v * 100.0)],
                    colour.filled(),
                )
            }))
            .map_err(chart_error)?;
        root.present().map_err(chart_error)?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_for_people() {
        assert_eq!(thousands(83750.0), "83,750");
        assert_eq!(thousands(1234567.4), "1,234,567");
        assert_eq!(thousands(-4200.0), "-4,200");
        assert_eq!(thousands(16.63), "16.6");
        assert_eq!(thousands(100.0), "100");
        assert_eq!(money_m(2850.0), "£2.85bn");
        assert_eq!(money_m(850.4), "£850m");
        assert_eq!(money_m(-120.0), "-£120m");
        assert_eq!(money_m(2.5), "£2.5m");
    }

    #[test]
    fn fans_and_histograms_draw() {
        let fan = Fan {
            label: "baseline".into(),
            points: (2023..=2033)
                .map(|y| {
                    let m = f64::from(y - 2000) * 100.0;
                    (
                        f64::from(y),
                        [m - 300.0, m - 100.0, m, m + 100.0, m + 300.0],
                    )
                })
                .collect(),
        };
        let svg = String::from_utf8(
            fan_chart(
                Format::Svg,
                "Spend",
                "£m",
                std::slice::from_ref(&fan),
                true,
                true,
            )
            .unwrap(),
        )
        .unwrap();
        assert!(
            svg.contains("Spend") && svg.contains("baseline") && svg.contains("<polygon"),
            "{}",
            &svg[..200]
        );
        assert!(
            fan_chart(Format::Png, "Spend", "£m", &[fan], true, false)
                .unwrap()
                .starts_with(b"\x89PNG")
        );
        let bars = vec![("2030".to_string(), 0.2), ("never".to_string(), 0.8)];
        let svg =
            String::from_utf8(share_histogram(Format::Svg, "Break-even year", &bars).unwrap())
                .unwrap();
        assert!(svg.contains("never") && svg.contains("80%"), "{svg}");
        assert!(fan_chart(Format::Svg, "none", "", &[], false, false).is_err());
    }

    /// Every fan chart says what its bands are; several fans keep their
    /// 90% bands as lines, so that only the middle halves are shaded.
    #[test]
    fn fan_charts_have_a_band_legend_and_overlaps_stay_apart() {
        let fan = |label: &str, shift: f64| Fan {
            label: label.into(),
            points: (2023..=2026)
                .map(|y| {
                    let m = f64::from(y - 2000) * 100.0 + shift;
                    (
                        f64::from(y),
                        [m - 300.0, m - 100.0, m, m + 100.0, m + 300.0],
                    )
                })
                .collect(),
        };
        let draw = |fans: &[Fan]| {
            String::from_utf8(fan_chart(Format::Svg, "Spend", "£m", fans, true, false).unwrap())
                .unwrap()
        };
        let one = draw(&[fan("baseline", 0.0)]);
        assert!(one.contains("middle 50% of runs") && one.contains("90% of runs"));
        assert!(one.contains("baseline, median"));
        assert!(!one.contains("thin lines"));
        let two = draw(&[fan("baseline", 0.0), fan("invest", 50.0)]);
        assert!(two.contains("90% of runs (thin lines)"), "{two}");
        // The middle halves are the only shaded areas: one polygon per fan.
        assert_eq!(
            two.matches("<polygon").count(),
            one.matches("<polygon").count(),
            "one: {one}\ntwo: {two}"
        );
    }

    #[test]
    fn a_chart_is_an_svg_with_its_labels() {
        let model: Vec<(f64, f64)> = (2013..=2023)
            .map(|y| (f64::from(y), 1000.0 * f64::from(y - 2000)))
            .collect();
        let observed = vec![(2014.0, 14_500.0), (2020.0, 19_000.0)];
        let svg = model_vs_observed("Children looked after", &model, &observed, false).unwrap();
        assert!(svg.starts_with("<svg"), "{}", &svg[..50]);
        assert!(svg.contains("Children looked after"));
        assert!(svg.contains("2018"));
        assert!(
            svg.contains("15,000") || svg.contains("20,000"),
            "thousands separators"
        );
        assert!(model_vs_observed("empty", &[], &[], false).is_err());
    }
}
