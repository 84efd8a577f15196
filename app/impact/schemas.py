from pydantic import BaseModel, ConfigDict, Field


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

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "attribution_window_seconds": 86400.0,
                    "days": 7,
                    "by_source": [
                        {
                            "day": "all",
                            "source": "embedded",
                            "lists": 1200,
                            "clicked": 324,
                            "carted": 96,
                            "purchased": 30,
                            "click_through_rate": 0.27,
                            "add_to_cart_rate": 0.08,
                            "purchase_rate": 0.025,
                        }
                    ],
                    "by_day": [
                        {
                            "day": "2026-12-03",
                            "source": "embedded",
                            "lists": 180,
                            "clicked": 45,
                            "carted": 14,
                            "purchased": 4,
                            "click_through_rate": 0.25,
                            "add_to_cart_rate": 0.0778,
                            "purchase_rate": 0.0222,
                        }
                    ],
                }
            ]
        }
    )
