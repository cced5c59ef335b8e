"""Country and US-state codes for Ramp vendor creation (Ramp wants ISO alpha-2 codes).

Pure data. FreshBooks stores a vendor's country and province as free text ("United
States", "California", "CA"); Ramp's create-vendor call needs a 2-letter country and,
for the US, a 2-letter state. Unrecognised text is a Problem for the caller to surface.
"""

from __future__ import annotations

from types import MappingProxyType

__all__ = ["country_code", "us_state_code"]

_COUNTRIES = MappingProxyType(
    {
        "united states": "US", "united states of america": "US", "usa": "US", "u s a": "US",
        "u s": "US", "america": "US", "canada": "CA", "united kingdom": "GB", "uk": "GB",
        "u k": "GB", "great britain": "GB", "england": "GB", "scotland": "GB", "wales": "GB",
        "northern ireland": "GB", "ireland": "IE", "australia": "AU", "new zealand": "NZ",
        "germany": "DE", "deutschland": "DE", "france": "FR", "spain": "ES", "italy": "IT",
        "netherlands": "NL", "the netherlands": "NL", "belgium": "BE", "switzerland": "CH",
        "austria": "AT", "sweden": "SE", "norway": "NO", "denmark": "DK", "finland": "FI",
        "portugal": "PT", "poland": "PL", "mexico": "MX", "brazil": "BR", "india": "IN",
        "japan": "JP", "singapore": "SG", "hong kong": "HK", "israel": "IL",
        "south africa": "ZA", "united arab emirates": "AE", "china": "CN",
    }
)  # fmt: skip

_STATES = MappingProxyType(
    {
        "alabama": "AL", "alaska": "AK", "arizona": "AZ", "arkansas": "AR", "california": "CA",
        "colorado": "CO", "connecticut": "CT", "delaware": "DE", "district of columbia": "DC",
        "florida": "FL", "georgia": "GA", "hawaii": "HI", "idaho": "ID", "illinois": "IL",
        "indiana": "IN", "iowa": "IA", "kansas": "KS", "kentucky": "KY", "louisiana": "LA",
        "maine": "ME", "maryland": "MD", "massachusetts": "MA", "michigan": "MI",
        "minnesota": "MN", "mississippi": "MS", "missouri": "MO", "montana": "MT",
        "nebraska": "NE", "nevada": "NV", "new hampshire": "NH", "new jersey": "NJ",
        "new mexico": "NM", "new york": "NY", "north carolina": "NC", "north dakota": "ND",
        "ohio": "OH", "oklahoma": "OK", "oregon": "OR", "pennsylvania": "PA",
        "rhode island": "RI", "south carolina": "SC", "south dakota": "SD", "tennessee": "TN",
        "texas": "TX", "utah": "UT", "vermont": "VT", "virginia": "VA", "washington": "WA",
        "west virginia": "WV", "wisconsin": "WI", "wyoming": "WY", "puerto rico": "PR",
        "guam": "GU", "u s virgin islands": "VI", "american samoa": "AS",
    }
)  # fmt: skip


def _key(text: str) -> str:
    return " ".join(text.replace(".", " ").casefold().split())


def country_code(text: object) -> str | None:
    """ISO alpha-2 code for a country name or code, or None if unrecognised."""
    if not isinstance(text, str):
        return None
    clean = text.strip()
    if len(clean) == 2 and clean.isascii() and clean.isalpha():
        return clean.upper()
    return _COUNTRIES.get(_key(clean))


def us_state_code(text: object) -> str | None:
    """USPS 2-letter code for a US state name or code, or None if unrecognised."""
    if not isinstance(text, str):
        return None
    clean = text.strip()
    if len(clean) == 2 and clean.upper() in _STATES.values():
        return clean.upper()
    return _STATES.get(_key(clean))
