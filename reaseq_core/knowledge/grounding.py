"""Grounding: does a knowledge entry say what the item's data says?

The paper (2.1.1, Layer 3) asks agents to cite the attributes or metadata fields behind each
characterization, and claims this "enables downstream verification"; it does not measure it. Here every
Layer-3 (and single-agent) entry is put in one of three classes against the item's data fields, the fields
the agent was shown (inputs.item_fields: title, brand, price, sales rank, category path, description,
key-value attributes):

contradicted  the entry states a fact that one of the fields states otherwise. Four kinds are checked, each
              by a narrow rule (precision before recall: an entry is called contradicted only on a plain
              disagreement):
              - gender: the entry says the item is for women (for women, women's, feminine, for her, ...) while
                the title or the category path says men's (or the reverse). A path and a title that disagree
                with each other ("Hugo By Hugo Boss For Women" under "Men's") make either claim contradicted:
                whichever side the entry takes, one field says otherwise.
                  "The item is for men"   on  category "Beauty > Fragrance > Women's"       -> contradicted
                  "for women, which aligns with the 'Men's' category" (quoted category names are references,
                  not claims; "for women" is the claim)                                       -> contradicted
                  "suitable for men and women" (unisex claims are never called contradicted)   -> not by this rule
                A field that names both genders ("For Women ... to Attract Men") decides nothing.
              - size: the entry states an amount with a unit (1.7 oz, 50 ml, 3-ounce, 200 g) while the title or
                description states sizes and none of them is within 12% of it (units converted: 1 oz = 29.57 ml,
                weights as grams). A size where the item states none is not contradicted (it is beyond).
                  "a 3.4 oz bottle"  on title "... Spray 1.7 Oz"                                 -> contradicted
                  "50 ml"            on title "... Spray 1.7 Oz"     (1.7 oz = 50.3 ml)          -> agrees
              - price: the item has a price p. A dollar range the entry places the item in ("falls within the
                budget of $50-100", "priced between $20 and $30") that does not contain p; a single amount given
                as the item's price ("costs $45", "$45") more than 2% from p; "under / below / less than $X"
                with p > X; "over / above / more than $X" with p < X. An amount named as a reference ("the
                average price of $50", "compared to $30", "similar items") is skipped unless it is compared
                ("higher than the average of $50-100" is contradicted only when p is below the range).
                  "$50-100"          on price 12.00                                              -> contradicted
                  "costs $65.86"     on price 65.86                                              -> agrees
              - category: the entry names a perfume concentration (eau de parfum / toilette / cologne) the
                title and path do not have while they name another; or (when the caller passes the catalogue's
                category names) calls the item part of a named category that is not on its path ("in the Skin
                Care category" for a Fragrance item).
supported     not contradicted, and the cited fields' VALUES bear the claim out. The claim is the entry's
              content words (analysis and keywords, without function words, generic words such as "common",
              "popular", "item", the words of its own dimension label and of the item's first two path levels
              such as "Beauty" / "Fragrance", which say nothing about this item). Typed facts (a gender, size or
              price that agrees with the field holding it) count as borne out. Any other claim word is borne out
              when it occurs in the value of a field the entry cites. Citing a field means: naming it ("title"),
              "field: value" with the value in that field, or quoting a phrase that occurs in it. A bare field
              name is only a pointer: it is not evidence unless that field's value carries the claim words.
              Supported = at least one claim term borne out and at least half of them.
                  "The item is by Prada, a luxury brand" citing "brand" (Prada)   -> supported (prada, luxury: 1/2)
                  "The item is for women's fragrance" citing "title" ("... For Women") -> supported
beyond        neither: world knowledge that the fields neither confirm nor contradict (notes of a perfume,
              occasions, "long-lasting"), or a claim whose only evidence is a field name whose value does not
              carry it ("occasions such as weddings" citing "category"), or no claim words at all.
                  "lavender, rosemary and vanilla" citing "ingredients" (no such field)         -> beyond

The old check (every cited evidence string resolves to a field, a field value or a phrase of the item) is
`check_evidence`; it is one step here (what a citation points at), no verdict on the claim.

Stored entries carry `grounding` (the class), `grounding_note` (why, readable) and `grounded` (= class is
supported); an item's `grounding_rate` is its share of supported entries. Knowledge stored before this rule
is re-classified on reading (`classify_rows`), so the shipped artifact and the tables agree.
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass, field

SUPPORTED, BEYOND, CONTRADICTED = "supported", "beyond", "contradicted"
CLASSES = (SUPPORTED, BEYOND, CONTRADICTED)

_WORD = re.compile(r"[a-z0-9]+(?:\.[0-9]+)?")
STOPWORDS = {"a", "an", "the", "and", "or", "of", "for", "with", "in", "on", "to", "by", "is", "it", "its", "this",
             "that", "as", "at", "be", "from", "item", "product", "field", "value", "s"}
FIELD_ALIASES = {"title": "title", "name": "title", "product title": "title", "brand": "brand",
                 "price": "price", "sales rank": "sales_rank", "sales_rank": "sales_rank", "salesrank": "sales_rank",
                 "rank": "sales_rank", "category": "category", "category path": "category",
                 "category_path": "category", "categories": "category", "description": "description",
                 "attributes": "attributes", "details": "attributes"}
SUPPORT_SHARE = 2 / 3          # a quoted evidence phrase resolves when this share of its words is in the item
CLAIM_SHARE = 1 / 2            # an entry is supported when this share of its claim terms is borne out

# Words that state no fact about an item: they neither support nor count against a claim.
GENERIC = set("""
about also aligns align allows another any application applied apply approach are area as available average based
be because being best both brand brands budget but buyer buyers can category categories characteristic choice
choose classic common commonly consumer consumers contains containing cost costs customer customers daily day
description designed different does each easy effective especially etc everyday explicitly falls feature features
feel fit for form forms found from general given good great has have high higher ideal important include includes
including indicates intended into is it item items its just key known level like line listed look looking lower
made main make makes making many market may meet method more most much need needs not offer offered offers often
one option options other others out overall own particular people per perfect popular preference preferences
price priced pricing product products provide provides purpose quality range rank ranked ranking reflects relatively
sales same seek seeking seen should similar size sizes so some specific specifically spectrum standard such
suggests suit suitable suited target than that their them there these they this those through to type types
typical typically under use used user users uses using usually various very want wants way well when which while
who wide widely will within would audience value values style
""".split())

# ---- words and fields ------------------------------------------------------------------------------


def words(text: str) -> list[str]:
    return [w for w in _WORD.findall(text.lower()) if w not in STOPWORDS]


def _stem(w: str) -> str:
    if len(w) > 4 and w.endswith("ies"):
        return w[:-3] + "y"
    if len(w) > 3 and w.endswith("s") and not w.endswith("ss"):
        return w[:-1]
    return w


def _flat(fields: dict) -> dict[str, str]:
    """Field name -> text, with attributes flattened to 'attributes.<key>' and their bare keys."""
    out = {}
    for k, v in fields.items():
        if isinstance(v, dict):
            out["attributes"] = "; ".join(f"{a}: {b}" for a, b in v.items())
            for a, b in v.items():
                out[f"attributes.{a.lower()}"] = str(b)
                out.setdefault(a.lower(), str(b))
        else:
            out[k] = str(v)
    return out


def _field_of(name: str, flat: dict[str, str]) -> str | None:
    n = " ".join(name.strip().strip("'\"` ").lower().replace("-", " ").split())
    if n in flat:
        return n
    if n.replace(" ", "_") in flat:
        return n.replace(" ", "_")
    alias = FIELD_ALIASES.get(n)
    if alias is not None:
        return alias
    if n.startswith(("attribute ", "attributes.")):
        key = n.split(".", 1)[-1] if "." in n else n.split(" ", 1)[1]
        return f"attributes.{key}"
    return None


def _phrase_supported(phrase: str, haystack: set[str], haystack_text: str) -> bool:
    ws = words(phrase)
    if not ws:
        return False
    if " ".join(ws) in haystack_text:
        return True
    return sum(w in haystack for w in ws) / len(ws) >= SUPPORT_SHARE


def check_evidence(evidence: str, fields: dict) -> tuple[bool, str]:
    """(resolves, why) for one cited piece of evidence: does it point at something the item has? A field name
    resolves when the item has that field; 'field: value' when the value is in that field; a phrase when it
    occurs in the item. Resolving is not supporting a claim (see the module docstring)."""
    flat = _flat(fields)
    all_text = " ".join(flat.values())
    all_words = set(words(all_text))
    ev = evidence.strip()
    if not ev:
        return False, "empty evidence"
    field = _field_of(ev, flat)
    if field is not None:
        if flat.get(field, "").strip():
            return True, f"field '{field}' present"
        return False, f"cites field '{field}', which this item does not have"
    if ":" in ev:
        head, value = ev.split(":", 1)
        field = _field_of(head, flat)
        if field is not None:
            if not flat.get(field, "").strip():
                return False, f"cites field '{field}', which this item does not have"
            fw = set(words(flat[field]))
            if _phrase_supported(value, fw, " ".join(words(flat[field]))):
                return True, f"value found in field '{field}'"
            return False, f"'{value.strip()}' is not in field '{field}'"
    if _phrase_supported(ev, all_words, " ".join(words(all_text))):
        return True, "phrase found in the item"
    return False, f"'{ev}' is not in the item's metadata"


def cited_fields(evidence: list[str], fields: dict) -> tuple[set[str], list[str]]:
    """(the fields an entry's evidence points at, notes on evidence that points at nothing)."""
    flat = _flat(fields)
    out, notes = set(), []
    for ev in evidence:
        ok, why = check_evidence(ev, fields)
        if not ok:
            notes.append(why)
            continue
        f = _field_of(ev, flat) or (_field_of(ev.split(":", 1)[0], flat) if ":" in ev else None)
        if f is not None:
            out.add(f)
        else:                                   # a phrase: the fields it occurs in
            ws = words(ev)
            for name, text in flat.items():
                tw = set(words(text))
                if ws and sum(w in tw for w in ws) / len(ws) >= SUPPORT_SHARE:
                    out.add(name)
    return out, notes


# ---- typed facts: gender, size, price, concentration ------------------------------------------------
_UNISEX = re.compile(r"\b(unisex|(?:men|man) and (?:women|woman)|(?:women|woman) and (?:men|man)|both genders|"
                     r"him and her|her and him|his and hers|either gender)\b")
_F = r"(?:women|woman|ladies|lady|girls?|females?)"
_M = r"(?:men|man|gentlemen|gentleman|boys?|males?)"
_NOUN = r"(?:fragrances?|perfumes?|colognes?|scents?|products?|body|skin|hair|line|collection|grooming|care|wear|use)"
# a claim frames the item's audience: "for women", "women's fragrance", "feminine", a keyword that is a gender
_CLAIM_F = re.compile(rf"\b(?:for|to|by|targets?|targeting) (?:the )?{_F}\b|\b{_F}'?s? {_NOUN}\b|\bfeminine\b|\bfor her\b|"
                      rf"^\s*{_F}'?s?\s*$")
_CLAIM_M = re.compile(rf"\b(?:for|to|by|targets?|targeting) (?:the )?{_M}\b|\b{_M}'?s? {_NOUN}\b|\bmasculine\b|\bfor him\b|"
                      rf"\bpour homme\b|^\s*{_M}'?s?\s*$")
# what a field states: any gender word
_FEMALE = re.compile(r"\b(women'?s?|woman'?s?|womens|ladies'?|lady'?s|female|feminine|girls?'?s?|for her)\b")
_MALE = re.compile(r"\b(men'?s?|man'?s|mens|male|masculine|gentlemen'?s?|boys?'?s?|for him|homme|pour homme)\b")
_QUOTED_GENDER = re.compile(r"['‘\"“]\s*(?:wo)?men'?s?\s*['’\"”]")


def genders(text: str, claims: bool = False) -> set[str]:
    """{'F', 'M'} a text names; 'U' for unisex. claims=True: only where the text frames the item's audience
    ("for women", "men's fragrance", "feminine", a line that is only a gender word); a quoted name ("the
    'Men's' category") is a reference to a category, no claim."""
    t = text.lower().replace("’", "'")
    out = set()
    if claims:
        t = _QUOTED_GENDER.sub(" ", t)
    if _UNISEX.search(t):
        out.add("U")
        t = _UNISEX.sub(" ", t)
    if claims:
        lines = [x for x in re.split(r"[\n;]", t)]
        if any(_CLAIM_F.search(x) for x in lines):
            out.add("F")
        if any(_CLAIM_M.search(x) for x in lines):
            out.add("M")
        return out
    if _FEMALE.search(t):
        out.add("F")
    if _MALE.search(t):
        out.add("M")
    return out


_UNIT = (r"(fl\.?\s*oz\.?|fluid\s+ounces?|ounces?|ounce|oz\.?|ml|milliliters?|millilitres?|grams?|gr?|kg|"
         r"lbs?\.?|pounds?|liters?|litres?|l)")
_SIZE = re.compile(r"(?<![\w$.])(\d+(?:\.\d+)?|\d*\.\d+|\d+/\d+)\s*-?\s*" + _UNIT + r"(?![a-z])")
_TO_BASE = {"oz": 29.57, "ml": 1.0, "g": 1.0, "kg": 1000.0, "lb": 453.6, "l": 1000.0}
SIZE_TOLERANCE = 0.12


def _unit(u: str) -> str:
    u = u.lower().replace(".", "").replace(" ", "")
    if "oz" in u or "ounce" in u:
        return "oz"
    if u.startswith(("ml", "millil")):
        return "ml"
    if u in ("g", "gr", "gram", "grams"):
        return "g"
    if u == "kg":
        return "kg"
    if u.startswith(("lb", "pound")):
        return "lb"
    return "l"


def sizes(text: str) -> list[float]:
    """Sizes stated in a text, in millilitre-like units (oz -> ml; grams taken as ml: a cream's 50 g ~ 50 ml)."""
    out = []
    for num, unit in _SIZE.findall(text.lower()):
        try:
            v = (float(num.split("/")[0]) / float(num.split("/")[1])) if "/" in num else float(num)
        except (ValueError, ZeroDivisionError):
            continue
        if v > 0:
            out.append(v * _TO_BASE[_unit(unit)])
    return out


def _size_matches(claim: float, stated: list[float]) -> bool:
    return any(abs(claim - s) <= SIZE_TOLERANCE * max(claim, s) for s in stated)


_AMOUNT = r"\$\s?(\d+(?:,\d{3})*(?:\.\d+)?)"
_RANGE = re.compile(_AMOUNT + r"\s*(?:-|–|to|and)\s*\$?\s?(\d+(?:,\d{3})*(?:\.\d+)?)")
_SINGLE = re.compile(_AMOUNT)
_BELOW = re.compile(r"\b(under|below|less than|cheaper than|lower than|up to|at most|no more than)\s*(?:the\s+)?"
                    r"(?:\w+\s+){0,4}$")
_ABOVE = re.compile(r"\b(over|above|more than|higher than|more expensive than|at least|exceeds?|pricier than)\s*"
                    r"(?:the\s+)?(?:\w+\s+){0,4}$")
_REFERENCE = re.compile(r"\b(average|compared|comparison|similar|other|typical|typically|median|most|competitors?|"
                        r"usually|market|category's|others)\b")
_BUDGET = re.compile(r"\bbudgets?\b[^$]{0,25}$")
_ITEM_PRICE = re.compile(r"\b(costs?|priced at|price (?:of|is)|sells? for|retails? (?:for|at)|is|at|for)\s*"
                         r"(?:only |just |about |around |approximately )?$")
PRICE_TOLERANCE = 0.02


def _num(s: str) -> float:
    return float(s.replace(",", ""))


def price_claims(text: str) -> list[tuple[str, float, float, str]]:
    """(kind, low, high, context) per dollar amount or range in a text; kind: 'range', 'amount', 'below', 'above'
    (the comparison before it), 'reference' (an amount named as a comparison point, not the item's price)."""
    out, spans = [], []
    for m in _RANGE.finditer(text):
        spans.append(m.span())
        out.append((m.start(), _num(m.group(1)), _num(m.group(2))))
    for m in _SINGLE.finditer(text):
        if any(a <= m.start() < b for a, b in spans):
            continue
        out.append((m.start(), _num(m.group(1)), _num(m.group(1))))
    claims = []
    for start, lo, hi in sorted(out):
        before = text[max(0, start - 45):start].lower()
        if _BELOW.search(before):
            kind = "below"
        elif _ABOVE.search(before):
            kind = "above"
        elif _REFERENCE.search(before):
            kind = "reference"
        elif hi != lo:
            kind = "range"
        elif _BUDGET.search(before):
            kind = "below"                      # "within the budget of $20": a budget is a cap
        elif _ITEM_PRICE.search(before):
            kind = "amount"
        else:
            kind = "reference"                  # an amount not said to be the item's price: no claim checked
        claims.append((kind, min(lo, hi), max(lo, hi), text[max(0, start - 45):start + 12]))
    return claims


def price_problem(text: str, price: float | None) -> tuple[str | None, bool]:
    """(why the text's price claims disagree with the item's price, or None; whether a claim agreed)."""
    if price is None:
        return None, False
    agreed = False
    for kind, lo, hi, ctx in price_claims(text):
        if kind == "reference":
            continue
        if kind == "below" and price > hi * (1 + PRICE_TOLERANCE):
            return f"says under ${hi:g}, the price is ${price:.2f}", agreed
        if kind == "above" and price < lo * (1 - PRICE_TOLERANCE):
            return f"says over ${lo:g}, the price is ${price:.2f}", agreed
        if kind == "range" and not lo * (1 - PRICE_TOLERANCE) <= price <= hi * (1 + PRICE_TOLERANCE):
            return f"places the price in ${lo:g}-{hi:g}, the price is ${price:.2f}", agreed
        if kind == "amount":
            if abs(lo - price) > PRICE_TOLERANCE * price:
                return f"says ${lo:g}, the price is ${price:.2f}", agreed
            agreed = True
    return None, agreed


_CONCENTRATION = re.compile(r"\beau\s+de\s+(parfum|toilette|cologne)\b")


def concentrations(text: str) -> set[str]:
    return set(_CONCENTRATION.findall(text.lower()))


_NAMED_CATEGORY = re.compile(r"(?:in|within|from|of|belongs to|part of)\s+the\s+['\"‘“]?([A-Z][\w&' ]{1,30}?)['\"’”]?\s+"
                             r"(?:category|section|department)")


@dataclass
class ItemFacts:
    """What the typed rules read from an item's fields."""
    price: float | None
    sizes: list[float]
    genders: dict[str, set[str]]          # field -> genders it states (title, category)
    concentrations: set[str]
    path: list[str]
    generic: set[str] = field(default_factory=set)   # words of the first two path levels

    @staticmethod
    def of(fields: dict) -> "ItemFacts":
        try:
            price = float(fields["price"]) if str(fields.get("price", "")).strip() else None
        except ValueError:
            price = None
        text = " ".join(str(fields.get(k, "")) for k in ("title", "description"))
        path = [p.strip() for p in str(fields.get("category", "")).split(">") if p.strip()]
        g = {k: genders(str(fields[k])) for k in ("title", "category") if k in fields}
        conc = concentrations(str(fields.get("title", "")) + " " + str(fields.get("category", "")))
        generic = {_stem(w) for p in path[:2] for w in words(p)}
        return ItemFacts(price, sizes(text), {k: v for k, v in g.items() if v}, conc, path, generic)


# ---- classification -----------------------------------------------------------------------------------
def _claim_text(entry: dict) -> str:
    kws = [k for k in entry.get("keywords") or [] if isinstance(k, str)]
    return str(entry.get("analysis") or "") + ("\n" + "; ".join(kws) if kws else "")


def contradiction(entry: dict, fields: dict, facts: ItemFacts | None = None,
                  category_names: set[str] | frozenset = frozenset()) -> str | None:
    """Why the entry contradicts the item's fields, or None (the four narrow rules of the module docstring)."""
    facts = facts or ItemFacts.of(fields)
    text = _claim_text(entry)
    for g in sorted(genders(text, claims=True) - {"U"}):        # a unisex claim is never called contradicted
        for fname, stated in facts.genders.items():
            if "U" in stated or g in stated or len(stated) > 1:     # a field naming both genders decides nothing
                continue
            other = "men" if g == "F" else "women"
            return (f"gender: says for {'women' if g == 'F' else 'men'}, the {fname} says {other}"
                    f" ({fields.get(fname)})")
    if facts.sizes:
        for s in sizes(text):
            if not _size_matches(s, facts.sizes):
                return (f"size: says {s:g} ml-equivalent, the item states "
                        + ", ".join(f"{x:g}" for x in sorted(set(facts.sizes))) + " ml-equivalent")
    why, _ = price_problem(str(entry.get("analysis") or ""), facts.price)
    if why:
        return "price: " + why
    if facts.concentrations:
        extra = concentrations(text) - facts.concentrations
        if extra:
            return (f"category: says eau de {sorted(extra)[0]}, the item is eau de "
                    + " / ".join(sorted(facts.concentrations)))
    if category_names:
        names = {n.lower() for n in category_names}
        on_path = {p.lower() for p in facts.path}
        for m in _NAMED_CATEGORY.finditer(str(entry.get("analysis") or "")):
            name = m.group(1).strip().lower()
            if name in names and name not in on_path:
                return f"category: places the item in '{m.group(1).strip()}', its path is {' > '.join(facts.path)}"
    return None


def claim_terms(entry: dict, facts: ItemFacts) -> list[str]:
    """The entry's content words that could carry a fact (see the module docstring)."""
    dim = {_stem(w) for w in words(str(entry.get("dimension") or ""))}
    text = _claim_text(entry).lower()
    text = _SIZE.sub(" ", _RANGE.sub(" ", _SINGLE.sub(" ", text)))      # sizes and prices are typed facts
    out = []
    for w in words(text):
        s = _stem(w.strip("."))
        if (len(s) < 3 or s in GENERIC or w in GENERIC or s in dim or s in facts.generic or s.replace(".", "").isdigit()
                or genders(w)):
            continue
        if s not in out:
            out.append(s)
    return out


def classify_entry(entry: dict, fields: dict, facts: ItemFacts | None = None,
                   category_names: set[str] | frozenset = frozenset()) -> tuple[str, str]:
    """(class, why) of one entry: 'supported', 'beyond' or 'contradicted'."""
    facts = facts or ItemFacts.of(fields)
    why = contradiction(entry, fields, facts, category_names)
    if why:
        return CONTRADICTED, why
    evidence = [e for e in entry.get("evidence") or [] if isinstance(e, str)]
    cited, notes = cited_fields(evidence, fields)
    flat = _flat(fields)
    cited_words = {_stem(w) for f in cited for w in words(flat.get(f, ""))}
    text = _claim_text(entry)
    typed = []
    claimed_g = genders(text, claims=True) - {"U"}
    if claimed_g and facts.genders:
        typed.append("gender")
    if facts.sizes and sizes(text):
        typed.append("size")
    if price_problem(str(entry.get("analysis") or ""), facts.price)[1]:
        typed.append("price")
    terms = claim_terms(entry, facts)
    found = [t for t in terms if t in cited_words]
    n, k = len(terms) + len(typed), len(found) + len(typed)
    missing = [t for t in terms if t not in cited_words]
    unresolved = ("; evidence " + "; ".join(notes)) if notes else ""
    if n == 0:
        return BEYOND, "no claim the fields could bear out" + unresolved
    if k >= 1 and k / n >= CLAIM_SHARE:
        borne = typed + found
        return SUPPORTED, (f"borne out by the cited field values: {', '.join(borne[:6])}"
                           + (f"; beyond them: {', '.join(missing[:4])}" if missing else ""))
    if not cited:
        return BEYOND, "the evidence points at no field of this item" + unresolved + (
            f"; claim: {', '.join(missing[:5])}" if missing else "")
    return BEYOND, (f"not in the cited field values ({', '.join(sorted(cited))}): {', '.join(missing[:5])}"
                    + unresolved)


def ground_entry(entry: dict, fields: dict, facts: ItemFacts | None = None,
                 category_names: set[str] | frozenset = frozenset()) -> dict:
    """The entry with `grounding` (class), `grounding_note` (why) and `grounded` (class == supported)."""
    ev = [e for e in entry.get("evidence") or [] if isinstance(e, str)]
    cls, why = classify_entry(entry, fields, facts, category_names)
    if not ev and cls != CONTRADICTED:
        cls, why = BEYOND, "no evidence cited"
    return {**entry, "grounding": cls, "grounded": cls == SUPPORTED, "grounding_note": why}


def ground_knowledge(knowledge: dict, fields: dict, category_names: set[str] | frozenset = frozenset()
                     ) -> tuple[dict, float]:
    """Classify every entry of {'user_demand': [...], 'product_attribute': [...]}; returns (knowledge, rate)
    where rate is the share of supported entries (the item's grounding rate)."""
    facts = ItemFacts.of(fields)
    out, n, ok = {}, 0, 0
    for persp in ("user_demand", "product_attribute"):
        out[persp] = [ground_entry(e, fields, facts, category_names) for e in knowledge.get(persp, [])]
        n += len(out[persp])
        ok += sum(e["grounding"] == SUPPORTED for e in out[persp])
    return out, (ok / n if n else 0.0)


def contradicted_entries(knowledge: dict, fields: dict, category_names: set[str] | frozenset = frozenset()
                         ) -> list[tuple[str, str, str]]:
    """(perspective, dimension, why) of every contradicted entry (the validation of agents.py uses this)."""
    facts = ItemFacts.of(fields)
    out = []
    for persp in ("user_demand", "product_attribute"):
        for e in knowledge.get(persp, []):
            why = contradiction(e, fields, facts, category_names)
            if why:
                out.append((persp, str(e.get("dimension")), why))
    return out


def shares(classes: list[str]) -> dict[str, float]:
    """Share of each class (NaN-free: an empty list gives zeros)."""
    n = len(classes)
    return {c: (sum(x == c for x in classes) / n if n else 0.0) for c in CLASSES}


def fields_of(row: dict) -> dict:
    """inputs.item_fields of an items-table row as any reader returns it: a category path stored as an array
    and attributes stored as JSON text are accepted."""
    from .inputs import item_fields
    row = dict(row)
    path = row.get("category_path")
    row["category_path"] = [] if path is None else [str(x) for x in list(path)]
    attrs = row.get("attributes")
    if isinstance(attrs, str):
        try:
            attrs = json.loads(attrs) if attrs.strip() else {}
        except json.JSONDecodeError as e:
            raise ValueError(f"item {row.get('item_id')!r}: field 'attributes' is not JSON: {e}") from e
    row["attributes"] = attrs if isinstance(attrs, dict) else {}
    return item_fields(row)


def classify_rows(knowledge, items, category_names: set[str] | frozenset = frozenset()):
    """Re-classify stored knowledge rows (the item_knowledge artifact, any age) against the items' fields.
    Returns one row per entry: item_id, setup, primary_category, perspective, dimension, grounding, why."""
    import pandas as pd
    by_id = items.set_index("item_id", drop=False)
    rows = []
    for r in knowledge[knowledge["status"] == "ok"].to_dict("records"):
        iid = r["item_id"]
        if iid not in by_id.index:
            raise KeyError(f"item_knowledge row for item {iid!r} ({r.get('setup')}): item not in the items table")
        fields = fields_of(by_id.loc[iid].to_dict())
        facts = ItemFacts.of(fields)
        for persp in ("user_demand", "product_attribute"):
            raw = r.get(persp)
            try:
                entries = json.loads(raw) if isinstance(raw, str) and raw else []
            except json.JSONDecodeError as e:
                raise ValueError(f"item_knowledge row {iid!r} ({r.get('setup')}): field {persp!r} is not JSON: {e}") from e
            for e in entries:
                g = ground_entry(e, fields, facts, category_names)
                rows.append({"item_id": iid, "setup": r.get("setup"), "primary_category": r.get("primary_category"),
                             "perspective": persp, "dimension": e.get("dimension"), "grounding": g["grounding"],
                             "why": g["grounding_note"]})
    return pd.DataFrame(rows, columns=["item_id", "setup", "primary_category", "perspective", "dimension",
                                       "grounding", "why"])
