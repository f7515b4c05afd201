//! The order of a layout's layers, which the server sends with a page: searching for it (the
//! barycenter sweeps, the layering before them) is most of the cost of laying out a big graph,
//! and the browser, given the same graph and this order, draws the same layout without it.

use super::SlotId;
use serde::{Deserialize, Serialize};

/// Each layer's slots from top to bottom: step indices, then waypoint numbers (see
/// [`super::Layout`]). Only a hint: an order that does not fit the graph is ignored.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct LayerOrder(pub Vec<Vec<u32>>);

impl LayerOrder {
    pub(super) fn of(slots: &[Vec<SlotId>]) -> LayerOrder {
        LayerOrder(
            slots
                .iter()
                .map(|layer| layer.iter().map(|&s| s as u32).collect())
                .collect(),
        )
    }

    /// Each step's layer as this order places it, when it places every one of the `steps`
    /// exactly once and on the layer longest-path layering gives it (one right of its deepest
    /// need) for these `edges`; `None` otherwise.
    pub(super) fn layers(&self, steps: usize, edges: &[(usize, usize)]) -> Option<Vec<usize>> {
        let mut layer_of = vec![usize::MAX; steps];
        for (l, layer) in self.0.iter().enumerate() {
            for &slot in layer {
                match layer_of.get_mut(slot as usize) {
                    Some(at) if *at == usize::MAX => *at = l,
                    Some(_) => return None,
                    None => {} // a waypoint, checked by `slots`
                }
            }
        }
        let mut deepest = vec![None::<usize>; steps];
        for &(from, to) in edges {
            let below = layer_of[from].checked_add(1)?;
            deepest[to] = Some(deepest[to].map_or(below, |d| d.max(below)));
        }
        let fits = (0..steps).all(|v| layer_of[v] == deepest[v].unwrap_or(0));
        fits.then_some(layer_of)
    }

    /// The order as slots, when each of its layers holds exactly the slots of `unordered`'s
    /// layer (in any order); `None` otherwise.
    pub(super) fn slots(
        &self,
        unordered: &[Vec<SlotId>],
        slot_count: usize,
    ) -> Option<Vec<Vec<SlotId>>> {
        if self.0.len() != unordered.len() {
            return None;
        }
        let mut layer_of = vec![usize::MAX; slot_count];
        for (l, layer) in unordered.iter().enumerate() {
            for &slot in layer {
                layer_of[slot] = l;
            }
        }
        let mut ordered = Vec::with_capacity(unordered.len());
        for (l, (layer, expected)) in self.0.iter().zip(unordered).enumerate() {
            if layer.len() != expected.len() {
                return None;
            }
            let mut slots = Vec::with_capacity(layer.len());
            for &slot in layer {
                let slot = slot as usize;
                // Taken on the way, so a slot listed twice fails the second time.
                match layer_of.get_mut(slot) {
                    Some(at) if *at == l => *at = usize::MAX,
                    _ => return None,
                }
                slots.push(slot);
            }
            ordered.push(slots);
        }
        Some(ordered)
    }
}
