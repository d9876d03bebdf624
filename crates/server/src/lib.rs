//! chinwag server (being written).
