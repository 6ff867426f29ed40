//! C ABI of ordu (in progress).
