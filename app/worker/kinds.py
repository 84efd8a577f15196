"""The kinds of background job. Keys are the user's MPID as a decimal string,
unless the kind says otherwise."""

# Forward the user's new interactions to the recommender, recompute their
# recommendations and cache them.
REFRESH = "refresh"

# Write the user's changed recommendations back to mParticle.
SYNC = "sync"

# One interaction that Amazon Personalize refused or that failed validation,
# dead-lettered with the reason; replaying it sends it again. Key: the
# interaction's key.
PERSONALIZE_EVENT = "personalize_event"

# Delete raw batches older than RECLOOP_RAW_BATCH_RETENTION_DAYS.
RETENTION = "retention"
