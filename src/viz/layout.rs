//! A layered drawing of the tape, left to right: inputs and parameters on the left, the loss on
//! the right, in the spirit of Graphviz's `dot` (Sugiyama's method, kept small).
//!
//! 1. **Columns.** A node's column is one past the furthest of its inputs (its longest path
//!    from a leaf); a leaf moves right to stand just before its first reader, so a bias sits
//!    beside the layer that adds it rather than at the far left.
//! 2. **Waypoints.** An edge that spans several columns gets a thin placeholder in each column
//!    it crosses, so that it is routed between boxes rather than through them.
//! 3. **Order.** Within each column, boxes are sorted by the mean position of their neighbours
//!    in the column before (then after), a few sweeps each way: the barycenter heuristic, which
//!    removes most crossings.
//! 4. **Heights.** Each box is pulled level with its neighbours (the mean of their centres), the
//!    column keeping its order and its gaps: a least-squares fit under order constraints, solved
//!    exactly by pooling adjacent violators.
//!
//! Every pass is linear in nodes and edges (up to a sort per column), so a tape of 10,000
//! nodes is laid out in milliseconds.

/// Horizontal gap between columns, where the edges run.
const GAP_X: f64 = 64.0;
/// Vertical gap between two boxes of a column.
const GAP_Y: f64 = 22.0;
/// Height kept free for an edge's waypoint in a column it crosses.
const WAYPOINT_H: f64 = 8.0;
/// The most columns an edge is routed through; a longer one is drawn straight.
const MAX_WAYPOINTS: usize = 12;
/// Weights of ops, waypoints and leaves (see `Item::weight`).
const OP: f64 = 16.0;
const WAYPOINT: f64 = 4.0;
const LEAF: f64 = 1.0;
/// Sweeps of the ordering and of the height fitting (each one way, then back).
const SWEEPS: usize = 4;

/// A box's place: top-left corner and size.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) struct Rect {
    pub(crate) x: f64,
    pub(crate) y: f64,
    pub(crate) w: f64,
    pub(crate) h: f64,
}

impl Rect {
    pub(crate) fn center_y(&self) -> f64 {
        self.y + self.h / 2.0
    }
}

/// One edge, input → reader, as the points it passes through: the input's right side, two
/// points across each column it crosses, and the reader's left side.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct EdgeRoute {
    pub(crate) from: usize,
    pub(crate) to: usize,
    pub(crate) points: Vec<(f64, f64)>,
}

impl EdgeRoute {
    /// The route as an SVG path: straight across the columns it crosses, a horizontal-tangent
    /// cubic between columns.
    pub(crate) fn path(&self) -> String {
        let mut d = String::new();
        let (x0, y0) = self.points[0];
        d.push_str(&format!("M{} {}", round(x0), round(y0)));
        for (k, pair) in self.points.windows(2).enumerate() {
            let ((xa, ya), (xb, yb)) = (pair[0], pair[1]);
            // Pairs (1,2), (3,4), … cross a column: a straight line.
            if k % 2 == 1 {
                d.push_str(&format!(" L{} {}", round(xb), round(yb)));
            } else {
                let mid = (xa + xb) / 2.0;
                d.push_str(&format!(
                    " C{} {} {} {} {} {}",
                    round(mid),
                    round(ya),
                    round(mid),
                    round(yb),
                    round(xb),
                    round(yb)
                ));
            }
        }
        d
    }
}

fn round(x: f64) -> f64 {
    (x * 10.0).round() / 10.0
}

/// Where every box and edge goes.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Layout {
    pub(crate) boxes: Vec<Rect>,
    pub(crate) edges: Vec<EdgeRoute>,
    pub(crate) width: f64,
    pub(crate) height: f64,
}

impl Layout {
    /// Moves the whole drawing by `(dx, dy)`.
    pub(crate) fn shift(&mut self, dx: f64, dy: f64) {
        for r in &mut self.boxes {
            r.x += dx;
            r.y += dy;
        }
        for e in &mut self.edges {
            for p in &mut e.points {
                p.0 += dx;
                p.1 += dy;
            }
        }
    }
}

/// What is placed in a column: a node's box, or an edge's waypoint.
struct Item {
    column: usize,
    h: f64,
    /// How firmly it holds its place: an op on the main path most, a waypoint less, a leaf
    /// least, so that the path from the inputs to the loss runs straight and the parameters
    /// make room beside it.
    weight: f64,
    /// Neighbours in the previous and the next column.
    before: Vec<usize>,
    after: Vec<usize>,
}

/// Lays out boxes of the given `sizes` (width, height); `inputs[i]` are the nodes node `i`
/// reads, all with a smaller index (a tape's order is topological).
pub(crate) fn layered(sizes: &[(f64, f64)], inputs: &[Vec<usize>]) -> Layout {
    let n = sizes.len();
    let columns = columns(inputs);
    let mut items: Vec<Item> = (0..n)
        .map(|i| Item {
            column: columns[i],
            h: sizes[i].1,
            weight: if inputs[i].is_empty() { LEAF } else { OP },
            before: Vec::new(),
            after: Vec::new(),
        })
        .collect();
    // Each edge's chain of items, from the input to the reader. A tape where one value feeds
    // readers far apart (an unrolled recurrence's shared weight) would need waypoints
    // quadratic in its length: an edge longer than MAX_WAYPOINTS columns, or past a budget,
    // goes straight, over the boxes between.
    let mut budget = 4 * n + 64;
    let mut chains = Vec::new();
    for (to, reads) in inputs.iter().enumerate() {
        for &from in reads {
            let span = columns[to] - columns[from];
            let mut chain = vec![from];
            if span > 1 && span - 1 <= budget.min(MAX_WAYPOINTS) {
                budget -= span - 1;
                for column in columns[from] + 1..columns[to] {
                    items.push(Item {
                        column,
                        h: WAYPOINT_H,
                        weight: WAYPOINT,
                        before: Vec::new(),
                        after: Vec::new(),
                    });
                    chain.push(items.len() - 1);
                }
            }
            chain.push(to);
            for pair in chain.windows(2) {
                if items[pair[1]].column == items[pair[0]].column + 1 {
                    items[pair[0]].after.push(pair[1]);
                    items[pair[1]].before.push(pair[0]);
                }
            }
            chains.push((from, to, chain));
        }
    }
    let width_of = |item: usize| if item < n { sizes[item].0 } else { 0.0 };
    let column_count = columns.iter().max().map_or(0, |c| c + 1);
    let order = order(&items, column_count);
    let mut y = heights(&items, &order);
    let top = y
        .iter()
        .zip(&items)
        .map(|(c, item)| c - item.h / 2.0)
        .fold(f64::INFINITY, f64::min);
    let top = if top.is_finite() { top } else { 0.0 };
    y.iter_mut().for_each(|c| *c -= top);

    let mut column_x = Vec::with_capacity(column_count + 1);
    let mut column_w = vec![0.0f64; column_count];
    for (i, item) in items.iter().enumerate() {
        column_w[item.column] = column_w[item.column].max(width_of(i));
    }
    let mut x = 0.0;
    for w in &column_w {
        column_x.push(x);
        x += w + GAP_X;
    }
    let width = (x - GAP_X).max(0.0);
    let boxes: Vec<Rect> = (0..n)
        .map(|i| {
            let (w, h) = sizes[i];
            let c = columns[i];
            Rect {
                x: column_x[c] + (column_w[c] - w) / 2.0,
                y: y[i] - h / 2.0,
                w,
                h,
            }
        })
        .collect();
    let height = items
        .iter()
        .zip(&y)
        .map(|(item, c)| c + item.h / 2.0)
        .fold(0.0, f64::max);
    let edges = chains
        .into_iter()
        .map(|(from, to, chain)| {
            let a = boxes[from];
            let b = boxes[to];
            let position = inputs[to].iter().position(|&i| i == from).unwrap_or(0);
            let count = inputs[to].len() as f64;
            // Inputs arrive spread over the reader's left side, in argument order.
            let spread = (b.h / (count + 1.0)).min(14.0);
            let port = b.center_y() + (position as f64 - (count - 1.0) / 2.0) * spread;
            let mut points = vec![(a.x + a.w, a.center_y())];
            for &waypoint in &chain[1..chain.len() - 1] {
                let c = items[waypoint].column;
                points.push((column_x[c], y[waypoint]));
                points.push((column_x[c] + column_w[c], y[waypoint]));
            }
            points.push((b.x, port));
            EdgeRoute { from, to, points }
        })
        .collect();
    Layout {
        boxes,
        edges,
        width,
        height,
    }
}

/// Each node's column: one past its furthest input; a leaf just before its first reader.
fn columns(inputs: &[Vec<usize>]) -> Vec<usize> {
    let n = inputs.len();
    let mut column = vec![0usize; n];
    for (i, reads) in inputs.iter().enumerate() {
        if let Some(furthest) = reads.iter().map(|&j| column[j]).max() {
            column[i] = furthest + 1;
        }
    }
    let mut first_reader = vec![usize::MAX; n];
    for (i, reads) in inputs.iter().enumerate() {
        for &j in reads {
            first_reader[j] = first_reader[j].min(column[i]);
        }
    }
    for i in 0..n {
        if inputs[i].is_empty() && first_reader[i] != usize::MAX {
            column[i] = first_reader[i] - 1;
        }
    }
    column
}

/// The order of items within each column, by barycenter sweeps.
fn order(items: &[Item], column_count: usize) -> Vec<Vec<usize>> {
    let mut columns: Vec<Vec<usize>> = vec![Vec::new(); column_count];
    // Start from recording order (waypoints are created in their edge's order).
    for (i, item) in items.iter().enumerate() {
        columns[item.column].push(i);
    }
    let mut position = vec![0.0f64; items.len()];
    let place = |column: &[usize], position: &mut [f64]| {
        for (k, &i) in column.iter().enumerate() {
            position[i] = k as f64;
        }
    };
    columns.iter().for_each(|c| place(c, &mut position));
    for _ in 0..SWEEPS {
        for forward in [true, false] {
            let sequence: Vec<usize> = if forward {
                (1..column_count).collect()
            } else {
                (0..column_count.saturating_sub(1)).rev().collect()
            };
            for c in sequence {
                let key: Vec<(f64, usize)> = columns[c]
                    .iter()
                    .map(|&i| {
                        let near = if forward {
                            &items[i].before
                        } else {
                            &items[i].after
                        };
                        (
                            mean(near.iter().map(|&j| position[j])).unwrap_or(position[i]),
                            i,
                        )
                    })
                    .collect();
                let mut sorted = key;
                sorted.sort_by(|a, b| a.0.total_cmp(&b.0));
                columns[c] = sorted.into_iter().map(|(_, i)| i).collect();
                place(&columns[c], &mut position);
            }
        }
    }
    columns
}

fn weighted_mean(values: impl Iterator<Item = (f64, f64)>) -> Option<f64> {
    let (sum, total) = values.fold((0.0, 0.0), |(s, t), (v, w)| (s + v * w, t + w));
    (total > 0.0).then(|| sum / total)
}

fn mean(values: impl Iterator<Item = f64>) -> Option<f64> {
    let (sum, count) = values.fold((0.0, 0usize), |(s, c), v| (s + v, c + 1));
    (count > 0).then(|| sum / count as f64)
}

/// Each item's centre height: stacked first, then pulled level with its neighbours.
fn heights(items: &[Item], columns: &[Vec<usize>]) -> Vec<f64> {
    let mut center = vec![0.0f64; items.len()];
    for column in columns.iter() {
        let mut top = 0.0;
        for &i in column {
            center[i] = top + items[i].h / 2.0;
            top += items[i].h + GAP_Y;
        }
    }
    let column_count = columns.len();
    for _ in 0..SWEEPS {
        for forward in [true, false] {
            let sequence: Vec<usize> = if forward {
                (1..column_count).collect()
            } else {
                (0..column_count.saturating_sub(1)).rev().collect()
            };
            for c in sequence {
                let column = &columns[c];
                let desired: Vec<f64> = column
                    .iter()
                    .map(|&i| {
                        let near = if forward {
                            &items[i].before
                        } else {
                            &items[i].after
                        };
                        weighted_mean(near.iter().map(|&j| (center[j], items[j].weight)))
                            .unwrap_or(center[i])
                    })
                    .collect();
                let weights: Vec<f64> = column.iter().map(|&i| items[i].weight).collect();
                let gaps: Vec<f64> = column
                    .windows(2)
                    .map(|p| (items[p[0]].h + items[p[1]].h) / 2.0 + GAP_Y)
                    .collect();
                for (&i, y) in column.iter().zip(pack(&desired, &weights, &gaps)) {
                    center[i] = y;
                }
            }
        }
    }
    center
}

/// The heights closest to `desired` (least squares, each term weighted) with
/// `y[k+1] − y[k] ≥ gaps[k]`.
///
/// With `z[k] = y[k] − (gaps[0] + … + gaps[k−1])` the constraint reads `z` non-decreasing: an
/// isotonic regression, which pooling adjacent violators solves exactly in one pass.
fn pack(desired: &[f64], weights: &[f64], gaps: &[f64]) -> Vec<f64> {
    let mut offset = Vec::with_capacity(desired.len());
    let mut sum = 0.0;
    for k in 0..desired.len() {
        offset.push(sum);
        sum += gaps.get(k).copied().unwrap_or(0.0);
    }
    // Blocks of (weighted sum of targets, total weight, count), each a run of equal z.
    let mut blocks: Vec<(f64, f64, usize)> = Vec::new();
    for ((d, o), w) in desired.iter().zip(&offset).zip(weights) {
        blocks.push(((d - o) * w, *w, 1));
        while blocks.len() > 1 {
            let (s1, w1, c1) = blocks[blocks.len() - 1];
            let (s0, w0, c0) = blocks[blocks.len() - 2];
            if s0 / w0 <= s1 / w1 {
                break;
            }
            blocks.pop();
            *blocks.last_mut().expect("two blocks") = (s0 + s1, w0 + w1, c0 + c1);
        }
    }
    let mut y = Vec::with_capacity(desired.len());
    for (s, w, c) in blocks {
        y.extend(std::iter::repeat_n(s / w, c));
    }
    y.iter_mut().zip(&offset).for_each(|(y, o)| *y += o);
    y
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn packing_keeps_order_and_gaps_and_meets_free_targets() {
        // Far apart: each box sits at its target.
        assert_eq!(pack(&[0.0, 100.0], &[1.0; 2], &[10.0]), [0.0, 100.0]);
        // Both want 0: they share the gap around their mean target…
        assert_eq!(pack(&[0.0, 0.0], &[1.0; 2], &[10.0]), [-5.0, 5.0]);
        // …unless one holds its place more firmly (weight 4 against 1: it moves 1/5 of the gap).
        assert_eq!(pack(&[0.0, 0.0], &[4.0, 1.0], &[10.0]), [-2.0, 8.0]);
        // Out of order: pooled, then separated by the gap.
        let y = pack(&[50.0, 0.0, 200.0], &[1.0; 3], &[10.0, 10.0]);
        assert_eq!(y, [20.0, 30.0, 200.0]);
    }

    #[test]
    fn leaves_stand_just_before_their_first_reader() {
        // n0 → n1 → n2 → n4, and the leaf n3 read only by n4: it moves from column 0 to 2.
        let inputs = vec![vec![], vec![0], vec![1], vec![], vec![2, 3]];
        assert_eq!(columns(&inputs), [0, 1, 2, 2, 3]);
    }

    #[test]
    fn a_long_edge_gets_waypoints_and_no_box_overlaps_another() {
        // n0 is read at column 1 and column 3.
        let inputs = vec![vec![], vec![0], vec![1], vec![2, 0]];
        let sizes = vec![(100.0, 60.0); 4];
        let layout = layered(&sizes, &inputs);
        let long = layout
            .edges
            .iter()
            .find(|e| e.from == 0 && e.to == 3)
            .unwrap();
        // start, two points across each of columns 1 and 2, end
        assert_eq!(long.points.len(), 6);
        for (i, a) in layout.boxes.iter().enumerate() {
            for b in &layout.boxes[i + 1..] {
                let apart =
                    a.x + a.w <= b.x || b.x + b.w <= a.x || a.y + a.h <= b.y || b.y + b.h <= a.y;
                assert!(apart, "{a:?} overlaps {b:?}");
            }
        }
        assert!(layout
            .boxes
            .iter()
            .all(|r| r.y >= 0.0 && r.y + r.h <= layout.height));
    }
}
