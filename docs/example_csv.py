"""Write the README's example data: people.csv and customers.csv.

The command line examples of the README ("Cluster your own data") read
these two files; this script makes them, always the same (fixed seeds).
It is data for the command line, not a gallery example: it lives beside the
documentation that uses it, and the docs build does not run it.

* people.csv: 600 rows, ``id,name,height,weight``; two groups of people
  (heights in cm, weights in kg).
* customers.csv: 200,000 rows, ``id,age,income,visits,city``; three groups
  of customers, in units of very different sizes (years, dollars, visits).

    python docs/example_csv.py            # into the current folder
    python docs/example_csv.py DIR        # into DIR
"""

import argparse
import csv
import os

import numpy as np

NAMES = ["Ada", "Ben", "Cleo", "Dev", "Eva", "Finn", "Gia", "Hugo", "Ines", "Jon",
         "Kai", "Lena", "Milo", "Nora", "Omar", "Pia", "Quinn", "Rosa", "Sami", "Tara"]
CITIES = ["Lyon", "Porto", "Graz", "Turku", "Gent", "Split", "Cork", "Brno"]


def people(rng, n=600):
    """Two groups: (height cm, weight kg) around (160, 55) and (180, 80)."""
    group = rng.random(n) < 0.5
    height = np.where(group, rng.normal(160, 6, n), rng.normal(180, 7, n))
    weight = np.where(group, rng.normal(55, 6, n), rng.normal(80, 8, n))
    header = ["id", "name", "height", "weight"]
    rows = [[1000 + i, NAMES[rng.integers(len(NAMES))], f"{h:.1f}", f"{w:.1f}"]
            for i, (h, w) in enumerate(zip(height, weight, strict=True))]
    return header, rows


def customers(rng, n=200_000):
    """Three groups of (age, yearly income in dollars, visits a month)."""
    centers = np.array([[28.0, 32_000.0, 4.0], [45.0, 58_000.0, 12.0], [63.0, 91_000.0, 7.0]])
    spread = np.array([[4.0, 6_000.0, 1.5], [5.0, 8_000.0, 2.0], [5.0, 10_000.0, 1.5]])
    group = rng.integers(len(centers), size=n)
    X = centers[group] + spread[group] * rng.standard_normal((n, 3))
    age = np.clip(np.round(X[:, 0]), 18, 99).astype(int)
    income = np.clip(np.round(X[:, 1], -2), 0, None).astype(int)
    visits = np.clip(np.round(X[:, 2]), 0, None).astype(int)
    city = rng.integers(len(CITIES), size=n)
    header = ["id", "age", "income", "visits", "city"]
    rows = [[f"C{i:06d}", a, m, v, CITIES[c]]
            for i, (a, m, v, c) in enumerate(zip(age, income, visits, city, strict=True))]
    return header, rows


def write(path, header, rows):
    path = os.path.normpath(path)
    with open(path, "w", newline="") as f:
        writer = csv.writer(f, lineterminator="\n")
        writer.writerow(header)
        writer.writerows(rows)
    print(f"{path}: {len(rows):,} rows, {','.join(header)}")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("dir", nargs="?", default=".", help="where to write (default: .)")
    args = parser.parse_args()
    os.makedirs(args.dir, exist_ok=True)
    write(os.path.join(args.dir, "people.csv"), *people(np.random.default_rng(1)))
    write(os.path.join(args.dir, "customers.csv"), *customers(np.random.default_rng(2)))


if __name__ == "__main__":
    main()
