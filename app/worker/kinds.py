"""The kinds of background job. Keys are the user's MPID as a decimal string."""

# Forward the user's new interactions to the recommender, recompute their
# recommendations and cache them.
REFRESH = "refresh"

# Write the user's changed recommendations back to mParticle.
SYNC = "sync"

# Delete raw batches older than RECLOOP_RAW_BATCH_RETENTION_DAYS.
RETENTION = "retention"
