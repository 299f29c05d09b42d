"""Built-in word lists for synthetic names and places.

Written for the generator, not taken from the reference export: common US given and family
names, invented brand-like words, and well-known US cities with one of their zip codes. The order of
every list is fixed so that a seed always picks the same words.
"""

from __future__ import annotations

FIRST_NAMES: tuple[str, ...] = (
    "James", "Mary", "John", "Patricia", "Robert", "Jennifer", "Michael", "Linda", "William",
    "Elizabeth", "David", "Barbara", "Richard", "Susan", "Joseph", "Jessica", "Thomas", "Sarah",
    "Charles", "Karen", "Daniel", "Nancy", "Matthew", "Lisa", "Anthony", "Betty", "Mark",
    "Margaret", "Donald", "Sandra", "Steven", "Ashley", "Paul", "Kimberly", "Andrew", "Emily",
    "Joshua", "Donna", "Kenneth", "Michelle", "Kevin", "Carol", "Brian", "Amanda", "George",
    "Melissa", "Edward", "Deborah", "Ronald", "Stephanie", "Luis", "Rosa", "Carlos", "Ana",
    "Jorge", "Maria", "Jose", "Carmen", "Pedro", "Elena",
)

LAST_NAMES: tuple[str, ...] = (
    "Smith", "Johnson", "Williams", "Brown", "Jones", "Garcia", "Miller", "Davis", "Rodriguez",
    "Martinez", "Hernandez", "Lopez", "Gonzalez", "Wilson", "Anderson", "Thomas", "Taylor",
    "Moore", "Jackson", "Martin", "Lee", "Perez", "Thompson", "White", "Harris", "Sanchez",
    "Clark", "Ramirez", "Lewis", "Robinson", "Walker", "Young", "Allen", "King", "Wright",
    "Scott", "Torres", "Nguyen", "Hill", "Flores", "Green", "Adams", "Nelson", "Baker", "Hall",
    "Rivera", "Campbell", "Mitchell", "Carter", "Roberts", "Cruz", "Ortiz", "Reyes", "Morales",
)

BRANDS: tuple[str, ...] = (
    "Altura", "Brisko", "Cordell", "Dunmore", "Everpeak", "Falcrest", "Granite Bay", "Halvorsen",
    "Ironwood", "Juniper Ridge", "Kestrel", "Lumera", "Marlowe", "Northvale", "Orion Trail",
    "Pinecrest", "Quarry", "Redfern", "Summit & Sons", "Trailborn", "Upland", "Vantor",
    "Westbrook", "Yarrow", "Zephyr",
)

MODEL_WORDS: tuple[str, ...] = (
    "Pro", "Elite", "Classic", "Sport", "Max", "Lite", "Performance", "Tour", "Select", "Prime",
    "Active", "Junior", "Ultra", "Core", "Flex", "Edge", "Trail", "Velocity", "Apex", "Origin",
)

PRODUCT_SUFFIXES: tuple[str, ...] = ("", "", "Kit", "Set", "Pack", "Series", "II", "2.0")

# (city, state, zip code) — zip codes as 5-digit strings; the export drops their leading zeros.
CITIES: tuple[tuple[str, str, str], ...] = (
    ("Caguas", "PR", "00725"), ("San Juan", "PR", "00901"), ("Bayamon", "PR", "00956"),
    ("Carolina", "PR", "00983"), ("Ponce", "PR", "00716"),
    ("Los Angeles", "CA", "90027"), ("San Diego", "CA", "92101"), ("San Jose", "CA", "95112"),
    ("Sacramento", "CA", "95814"), ("Fresno", "CA", "93701"), ("Oakland", "CA", "94607"),
    ("Long Beach", "CA", "90802"), ("Santa Ana", "CA", "92701"), ("Bakersfield", "CA", "93301"),
    ("Riverside", "CA", "92501"),
    ("New York", "NY", "10001"), ("Brooklyn", "NY", "11201"), ("Bronx", "NY", "10451"),
    ("Buffalo", "NY", "14201"), ("Rochester", "NY", "14604"),
    ("Houston", "TX", "77002"), ("San Antonio", "TX", "78205"), ("Dallas", "TX", "75201"),
    ("Austin", "TX", "78701"), ("El Paso", "TX", "79901"),
    ("Chicago", "IL", "60601"), ("Aurora", "IL", "60505"), ("Naperville", "IL", "60540"),
    ("Peoria", "IL", "61602"),
    ("Miami", "FL", "33126"), ("Tampa", "FL", "33602"), ("Orlando", "FL", "32801"),
    ("Jacksonville", "FL", "32202"),
    ("Columbus", "OH", "43215"), ("Cleveland", "OH", "44113"), ("Cincinnati", "OH", "45202"),
    ("Detroit", "MI", "48226"), ("Grand Rapids", "MI", "49503"), ("Lansing", "MI", "48933"),
    ("Philadelphia", "PA", "19103"), ("Pittsburgh", "PA", "15222"), ("Allentown", "PA", "18101"),
    ("Newark", "NJ", "07102"), ("Jersey City", "NJ", "07302"), ("Paterson", "NJ", "07501"),
    ("Trenton", "NJ", "08608"),
    ("Phoenix", "AZ", "85004"), ("Tucson", "AZ", "85701"), ("Mesa", "AZ", "85201"),
    ("Atlanta", "GA", "30303"), ("Savannah", "GA", "31401"), ("Augusta", "GA", "30901"),
    ("Baltimore", "MD", "21201"), ("Silver Spring", "MD", "20910"), ("Rockville", "MD", "20850"),
    ("Virginia Beach", "VA", "23451"), ("Richmond", "VA", "23219"), ("Norfolk", "VA", "23510"),
    ("Charlotte", "NC", "28202"), ("Raleigh", "NC", "27601"), ("Durham", "NC", "27701"),
    ("Denver", "CO", "80202"), ("Aurora", "CO", "80010"), ("Colorado Springs", "CO", "80903"),
    ("Boston", "MA", "02108"), ("Worcester", "MA", "01608"), ("Springfield", "MA", "01103"),
    ("Portland", "OR", "97204"), ("Salem", "OR", "97301"), ("Eugene", "OR", "97401"),
    ("Las Vegas", "NV", "89101"), ("Henderson", "NV", "89002"), ("Reno", "NV", "89501"),
    ("Memphis", "TN", "38103"), ("Nashville", "TN", "37203"), ("Knoxville", "TN", "37902"),
    ("Honolulu", "HI", "96813"), ("Hilo", "HI", "96720"),
    ("Kansas City", "MO", "64106"), ("St. Louis", "MO", "63101"),
    ("Hartford", "CT", "06103"), ("New Haven", "CT", "06510"), ("Stamford", "CT", "06901"),
    ("Salt Lake City", "UT", "84101"), ("Provo", "UT", "84601"),
    ("Albuquerque", "NM", "87102"), ("Santa Fe", "NM", "87501"),
    ("Milwaukee", "WI", "53202"), ("Madison", "WI", "53703"),
    ("Seattle", "WA", "98101"), ("Spokane", "WA", "99201"), ("Tacoma", "WA", "98402"),
    ("New Orleans", "LA", "70112"), ("Baton Rouge", "LA", "70801"),
    ("Minneapolis", "MN", "55401"), ("Saint Paul", "MN", "55101"),
    ("Washington", "DC", "20001"),
    ("Columbia", "SC", "29201"), ("Charleston", "SC", "29401"),
    ("Indianapolis", "IN", "46204"), ("Fort Wayne", "IN", "46802"),
    ("Louisville", "KY", "40202"), ("Lexington", "KY", "40507"),
    ("Wichita", "KS", "67202"), ("Topeka", "KS", "66603"),
    ("Wilmington", "DE", "19801"), ("Dover", "DE", "19901"),
    ("Oklahoma City", "OK", "73102"), ("Tulsa", "OK", "74103"),
    ("Providence", "RI", "02903"), ("Warwick", "RI", "02886"),
    ("Charleston", "WV", "25301"), ("Huntington", "WV", "25701"),
    ("Fargo", "ND", "58102"), ("Bismarck", "ND", "58501"),
    ("Little Rock", "AR", "72201"), ("Fayetteville", "AR", "72701"),
    ("Boise", "ID", "83702"), ("Des Moines", "IA", "50309"), ("Billings", "MT", "59101"),
    ("Birmingham", "AL", "35203"), ("Montgomery", "AL", "36104"),
    ("Portland", "ME", "04101"), ("Burlington", "VT", "05401"), ("Manchester", "NH", "03101"),
)
