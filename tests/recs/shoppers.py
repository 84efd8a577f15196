"""A running app with a dozen shoppers' lists cached, for the route's tests."""

from tests.batches import outbound_batch, product_event

CATALOG = [f"SKU-{n}" for n in range(20)]
# A cached user whose MPID needs all 64 bits.
BIG_MPID = 7_346_244_611_012_968_789


async def app_with_cached_lists(start_app, **settings):
    app = await start_app(**settings)
    batches = [
        outbound_batch(100 + u, product_event("view_detail", *CATALOG[u : u + 6]))
        for u in range(12)
    ]
    batches.append(outbound_batch(BIG_MPID, product_event("add_to_cart", "SKU-2")))
    await app.client.post("/webhooks/mparticle", json=batches)
    await app.retrain()
    await app.run_jobs()
    return app
