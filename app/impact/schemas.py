from pydantic import BaseModel, Field


class SourceDay(BaseModel):
    day: str = Field(description="UTC day the lists were generated, YYYY-MM-DD.")
    source: str = Field(description='"embedded", "personalize" or "popular".')
    lists: int = Field(description="Lists generated for users that day.")
    clicked: int = Field(description="Lists with a later view of one of their items.")
    carted: int = Field(description="Lists with a later add-to-cart of one of them.")
    purchased: int = Field(description="Lists with a later purchase of one of them.")
    click_through_rate: float
    add_to_cart_rate: float
    purchase_rate: float


class RecsStats(BaseModel):
    attribution_window_seconds: float = Field(
        description="How long after a list a view, cart or purchase is credited to it."
    )
    days: int
    by_source: list[SourceDay] = Field(
        description="All days together, one entry per source (day is 'all')."
    )
    by_day: list[SourceDay]
