"""Milvus filter expressions on Kestrel: scalars, JSON, arrays, nulls, templates.

Run:  python examples/filters.py

Every filter works the same in query(), count(), delete() and search(); a
filtered search keeps its recall however few rows pass (the planner switches
to exact search over the passing rows when the graph would miss them).
"""

from __future__ import annotations

import numpy as np

import vectorstore as vs

DT = vs.DataType

PRODUCTS = [
    # name, price, tags, meta, rating (None: not rated yet)
    ("trail shoes", 120.0, ["outdoor", "running"], {"brand": "Ridge", "sizes": [40, 42]}, 4.5),
    ("road shoes", 95.0, ["running"], {"brand": "Pace", "sizes": [41]}, 4.1),
    ("rain jacket", 180.0, ["outdoor"], {"brand": "Ridge", "sizes": [], "waterproof": True}, None),
    ("wool socks", 15.0, ["outdoor", "running"], {"brand": "Knit"}, 4.8),
    ("yoga mat", 40.0, ["indoor"], {"brand": "Pace", "colour": "teal"}, 3.9),
]


def main() -> None:
    schema = vs.Schema(
        [
            vs.Field("id", DT.INT64, is_primary=True),
            vs.Field("name", DT.VARCHAR, max_length=64),
            vs.Field("price", DT.DOUBLE),
            vs.Field("tags", DT.ARRAY, element_type=DT.VARCHAR, max_capacity=8),
            vs.Field("meta", DT.JSON),
            vs.Field("rating", DT.FLOAT, nullable=True),
            vs.Field("vector", DT.FLOAT_VECTOR, dim=8),
        ]
    )
    rng = np.random.default_rng(7)
    with vs.connect(":memory:") as db:
        col = db.create_collection("products", schema=schema)
        col.insert(
            [
                {
                    "id": i,
                    "name": n,
                    "price": p,
                    "tags": t,
                    "meta": m,
                    "rating": r,
                    "vector": rng.normal(size=8),
                }
                for i, (n, p, t, m, r) in enumerate(PRODUCTS)
            ]
        )
        examples = [
            ("price < 100", None),
            ("50 <= price <= 150 and not (name like 'road%')", None),
            ('array_contains(tags, "outdoor") and array_length(tags) >= 2', None),
            ('meta["brand"] == "Ridge"', None),
            ('json_contains(meta["sizes"], 42)', None),
            ('exists meta["colour"] or meta["waterproof"] == true', None),
            ("rating is null", None),
            ("rating > 4.0", None),  # a null rating is neither > 4 nor <= 4
            ("price <= {budget} and tags[0] in {kinds}", {"budget": 130, "kinds": ["outdoor"]}),
        ]
        for expr, params in examples:
            rows = col.query(filter=expr, filter_params=params, output_fields=["name"])
            shown = f"{expr}  {params}" if params else expr
            print(f"{shown:<70} -> {sorted(r['name'] for r in rows)}")
        hits = col.search(
            rng.normal(size=(1, 8)), limit=2, filter="price < 100", output_fields=["name", "price"]
        )[0]
        print("search, price < 100:", [(h["name"], h["price"]) for h in hits])
        try:
            col.query(filter="price >> 3")
        except vs.FilterSyntaxError as exc:
            print("a bad filter names the position:", exc)


if __name__ == "__main__":
    main()
