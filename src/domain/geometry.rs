//! Plane geometry for edges: points, cubic Bézier segments, and paths measured by arc length so
//! a progress marker can sit at p % of an edge's real (curved) length.

use serde::{Deserialize, Serialize};
use std::fmt::Write;
use std::sync::OnceLock;

/// Samples per cubic segment when measuring length; plenty for curves spanning a few hundred
/// user units (the error is far below a pixel).
const SAMPLES_PER_SEGMENT: usize = 48;

#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize, Default)]
pub struct Point {
    pub x: f64,
    pub y: f64,
}

impl Point {
    pub const fn new(x: f64, y: f64) -> Self {
        Point { x, y }
    }

    /// Plain `sqrt(dx² + dy²)`: `hypot` guards against overflow these coordinates never reach,
    /// and in WebAssembly it is a slow library call where `sqrt` is one instruction.
    pub fn distance(self, other: Point) -> f64 {
        let (dx, dy) = (self.x - other.x, self.y - other.y);
        (dx * dx + dy * dy).sqrt()
    }
}

/// An axis-aligned rectangle, `min` to `max` corner.
#[derive(Clone, Copy, Debug, PartialEq, Default)]
pub struct Rect {
    pub min: Point,
    pub max: Point,
}

impl Rect {
    pub fn new(x: f64, y: f64, width: f64, height: f64) -> Rect {
        Rect {
            min: Point::new(x, y),
            max: Point::new(x + width, y + height),
        }
    }

    /// Whether the two overlap (touching edges count).
    pub fn intersects(&self, other: &Rect) -> bool {
        self.min.x <= other.max.x
            && other.min.x <= self.max.x
            && self.min.y <= other.max.y
            && other.min.y <= self.max.y
    }
}

/// One cubic Bézier segment.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct Cubic {
    pub from: Point,
    pub c1: Point,
    pub c2: Point,
    pub to: Point,
}

impl Cubic {
    /// A horizontal S-curve from `from` to `to`: control points halfway across in x, so the
    /// curve leaves and enters horizontally (a node's right side to the next node's left side).
    pub fn horizontal(from: Point, to: Point) -> Self {
        let mid = (from.x + to.x) / 2.0;
        Cubic {
            from,
            c1: Point::new(mid, from.y),
            c2: Point::new(mid, to.y),
            to,
        }
    }

    /// The point at curve parameter `t` in 0..=1.
    pub fn point(&self, t: f64) -> Point {
        let u = 1.0 - t;
        let (a, b, c, d) = (u * u * u, 3.0 * u * u * t, 3.0 * u * t * t, t * t * t);
        Point::new(
            a * self.from.x + b * self.c1.x + c * self.c2.x + d * self.to.x,
            a * self.from.y + b * self.c1.y + c * self.c2.y + d * self.to.y,
        )
    }
}

/// A connected chain of cubic segments, measured by arc length. Not serialised: layout is
/// recomputed from the graph wherever it is needed, and the API sends `to_svg()`.
#[derive(Clone, Debug)]
pub struct Path {
    pub segments: Vec<Cubic>,
    /// Cumulative length at each sample; `lengths[0] == 0`, last entry is the total. Measured
    /// on first use: only edges that carry a marker need it, and measuring all 4,000 edges of
    /// a big graph was a good part of laying it out in the browser.
    lengths: OnceLock<Vec<f64>>,
}

/// Two paths are equal when their curves are (whether or not either was measured yet).
impl PartialEq for Path {
    fn eq(&self, other: &Path) -> bool {
        self.segments == other.segments
    }
}

impl Path {
    pub fn new(segments: Vec<Cubic>) -> Self {
        Path {
            segments,
            lengths: OnceLock::new(),
        }
    }

    fn lengths(&self) -> &[f64] {
        self.lengths.get_or_init(|| {
            let mut lengths = Vec::with_capacity(self.segments.len() * SAMPLES_PER_SEGMENT + 1);
            lengths.push(0.0);
            let mut total = 0.0;
            for segment in &self.segments {
                let mut previous = segment.from;
                for i in 1..=SAMPLES_PER_SEGMENT {
                    let p = segment.point(i as f64 / SAMPLES_PER_SEGMENT as f64);
                    total += previous.distance(p);
                    lengths.push(total);
                    previous = p;
                }
            }
            lengths
        })
    }

    pub fn length(&self) -> f64 {
        self.lengths().last().copied().unwrap_or(0.0)
    }

    /// The point at `fraction` (clamped to 0..=1) of the path's arc length. The sample table
    /// locates the segment and parameter; the point is then evaluated on the curve itself, so
    /// it lies exactly on the path rather than on a chord.
    pub fn point_at(&self, fraction: f64) -> Point {
        let Some(first) = self.segments.first() else {
            return Point::default();
        };
        let fraction = if fraction.is_nan() {
            0.0
        } else {
            fraction.clamp(0.0, 1.0)
        };
        let lengths = self.lengths();
        let target = fraction * lengths.last().copied().unwrap_or(0.0);
        let sample = lengths.partition_point(|&l| l < target).max(1);
        if sample >= lengths.len() {
            return self.segments.last().map_or(first.from, |s| s.to);
        }
        let (before, after) = (lengths[sample - 1], lengths[sample]);
        let within = if after > before {
            (target - before) / (after - before)
        } else {
            0.0
        };
        let global = (sample - 1) as f64 + within;
        let segment = ((global / SAMPLES_PER_SEGMENT as f64) as usize).min(self.segments.len() - 1);
        let t = (global - (segment * SAMPLES_PER_SEGMENT) as f64) / SAMPLES_PER_SEGMENT as f64;
        self.segments[segment].point(t.clamp(0.0, 1.0))
    }

    /// A box holding the whole path: the box of its control points (a cubic Bézier curve lies
    /// inside the hull of its control points).
    pub fn bounds(&self) -> Rect {
        let mut points = self
            .segments
            .iter()
            .flat_map(|s| [s.from, s.c1, s.c2, s.to]);
        let Some(first) = points.next() else {
            return Rect::default();
        };
        points.fold(
            Rect {
                min: first,
                max: first,
            },
            |r, p| Rect {
                min: Point::new(r.min.x.min(p.x), r.min.y.min(p.y)),
                max: Point::new(r.max.x.max(p.x), r.max.y.max(p.y)),
            },
        )
    }

    /// The SVG `d` attribute. Coordinates are written as given: layout rounds them to a tenth
    /// beforehand, so the browser's path and ours are the same curve.
    pub fn to_svg(&self) -> String {
        let mut d = String::new();
        if let Some(first) = self.segments.first() {
            let _ = write!(d, "M{} {}", num(first.from.x), num(first.from.y));
        }
        for s in &self.segments {
            let _ = write!(
                d,
                " C{} {} {} {} {} {}",
                num(s.c1.x),
                num(s.c1.y),
                num(s.c2.x),
                num(s.c2.y),
                num(s.to.x),
                num(s.to.y)
            );
        }
        d
    }
}

/// Rounds to one decimal, the precision of every coordinate we emit.
pub fn round1(v: f64) -> f64 {
    (v * 10.0).round() / 10.0
}

/// Formats a coordinate compactly ("12", "12.5").
pub fn num(v: f64) -> String {
    let r = round1(v);
    if r.fract() == 0.0 {
        format!("{}", r as i64)
    } else {
        format!("{r:.1}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_path_lies_within_its_bounds() {
        let path = Path::new(vec![
            Cubic::horizontal(Point::new(0.0, 0.0), Point::new(100.0, 80.0)),
            Cubic::horizontal(Point::new(100.0, 80.0), Point::new(200.0, -20.0)),
        ]);
        let bounds = path.bounds();
        assert_eq!(
            bounds,
            Rect {
                min: Point::new(0.0, -20.0),
                max: Point::new(200.0, 80.0)
            }
        );
        for i in 0..=100 {
            let p = path.point_at(f64::from(i) / 100.0);
            assert!(bounds.intersects(&Rect::new(p.x, p.y, 0.0, 0.0)), "{p:?}");
        }
        assert!(!bounds.intersects(&Rect::new(201.0, 0.0, 10.0, 10.0)));
        assert!(
            bounds.intersects(&Rect::new(-10.0, 70.0, 10.0, 10.0)),
            "touching counts"
        );
    }

    fn s_curve() -> Path {
        Path::new(vec![Cubic::horizontal(
            Point::new(0.0, 0.0),
            Point::new(100.0, 80.0),
        )])
    }

    #[test]
    fn ends_are_the_endpoints() {
        let p = s_curve();
        assert_eq!(p.point_at(0.0), Point::new(0.0, 0.0));
        let end = p.point_at(1.0);
        assert!(end.distance(Point::new(100.0, 80.0)) < 1e-9);
        assert_eq!(p.point_at(-3.0), p.point_at(0.0));
        assert_eq!(p.point_at(7.0), p.point_at(1.0));
    }

    #[test]
    fn points_lie_on_the_curve_not_the_chord() {
        let p = s_curve();
        let segment = p.segments[0];
        for i in 1..10 {
            let q = p.point_at(i as f64 / 10.0);
            // The nearest point of a dense sampling of the curve is within a hair.
            let nearest = (0..=10_000)
                .map(|k| segment.point(k as f64 / 10_000.0).distance(q))
                .fold(f64::MAX, f64::min);
            assert!(nearest < 0.02, "{q:?} is {nearest} off the curve");
        }
        // The midpoint of a symmetric S-curve is its centre; a chord-based answer would not be.
        assert!(p.point_at(0.5).distance(Point::new(50.0, 40.0)) < 0.05);
    }

    #[test]
    fn distance_along_is_proportional_to_fraction() {
        let p = s_curve();
        let total = p.length();
        assert!(total > 128.0 && total < 180.0, "{total}");
        // Walking the curve to the quarter point covers a quarter of its length.
        let quarter = p.point_at(0.25);
        let walked = Path::new(vec![p.segments[0]]);
        let mut along = 0.0;
        let mut prev = walked.segments[0].from;
        for k in 1..=100_000 {
            let q = walked.segments[0].point(k as f64 / 100_000.0);
            along += prev.distance(q);
            prev = q;
            if q.distance(quarter) < 0.01 {
                break;
            }
        }
        assert!((along / total - 0.25).abs() < 0.005, "{}", along / total);
    }

    #[test]
    fn multi_segment_paths_are_measured_across_segments() {
        let a = Cubic::horizontal(Point::new(0.0, 0.0), Point::new(100.0, 0.0));
        let b = Cubic::horizontal(Point::new(100.0, 0.0), Point::new(200.0, 0.0));
        let p = Path::new(vec![a, b]);
        assert!((p.length() - 200.0).abs() < 1e-6);
        assert!(p.point_at(0.75).distance(Point::new(150.0, 0.0)) < 0.05);
        assert_eq!(p.to_svg(), "M0 0 C50 0 50 0 100 0 C150 0 150 0 200 0");
    }
}
