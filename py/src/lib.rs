//! Python bindings of ordu (in progress).
