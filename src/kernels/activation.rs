//! Which function a dense layer applies after its affine map: named here, at the bottom, because
//! the kernels fuse it into the GEMM's epilogue and the δ pass (`dense.rs`, the packed tile).
//!
//! Recording it on a tape, [`Activation::apply`], is a method of the layers above (`nn.rs`): an
//! inherent `impl` may live in any module of the crate, so the enum stays down here and the
//! kernels import nothing from above.

/// The function applied after a layer's affine map `x·W + b`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Activation {
    /// `σ(z) = 1 / (1 + e⁻ᶻ)`.
    Sigmoid,
    /// `max(z, 0)`.
    Relu,
    /// `tanh z`.
    Tanh,
    /// `z` itself: no activation (the layer stays linear).
    Identity,
}
