pub use ferrograd_tensor as tensor;
