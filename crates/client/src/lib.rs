//! chinwag client library (being written).
