//! The proof tree the search records, turned into evidence.

use super::*;

/// Turns the arena into a proof tree (iteratively, trees can be deep).
pub(super) fn build_tree(net: &crate::Network, tree: &mut [TreeNode], root: usize) -> ProofNode {
    // ReLU layers are named by their ordinal in the evidence.
    let relu_ordinal = |layer: usize| {
        net.layers[..layer]
            .iter()
            .filter(|l| matches!(l, crate::Layer::Relu))
            .count()
    };
    // Post-order without recursion: children are built before parents.
    let mut built: Vec<Option<ProofNode>> = (0..tree.len()).map(|_| None).collect();
    let mut stack = vec![(root, false)];
    while let Some((id, expanded)) = stack.pop() {
        match &tree[id] {
            TreeNode::Split { children, .. } if !expanded => {
                let [a, b] = *children;
                stack.push((id, true));
                stack.push((a, false));
                stack.push((b, false));
            }
            TreeNode::Split {
                branch,
                refutations,
                children,
            } => {
                let [a, b] = *children;
                let (ca, cb) = (built[a].take(), built[b].take());
                let (Some(ca), Some(cb)) = (ca, cb) else {
                    unreachable!("children are built before their parent")
                };
                let refutations = refutations.clone();
                let children = Box::new([ca, cb]);
                built[id] = Some(match *branch {
                    Branch::Input { dim, at } => ProofNode::Split {
                        dim,
                        at,
                        refutations,
                        children,
                    },
                    Branch::Relu { layer, neuron } => ProofNode::ReluSplit {
                        relu_layer: relu_ordinal(layer),
                        neuron,
                        refutations,
                        children,
                    },
                });
            }
            TreeNode::Leaf(_) => {
                let TreeNode::Leaf(leaf) = std::mem::replace(&mut tree[id], TreeNode::Open) else {
                    unreachable!()
                };
                built[id] = Some(ProofNode::Leaf(leaf));
            }
            TreeNode::Open => unreachable!("a finished search has no open boxes"),
        }
    }
    built[root].take().expect("the root is built last")
}
