"""Path and name rules that label the game textures: one ordered table, first match wins.

Each rule is (game, pattern, category). `game` is one of GAMES or "*"; `pattern` is a regular
expression searched in the *key* of a file: its path inside the game's data folder, lower-cased,
with camelCase split by "_" and the extension (and 0 A.D.'s `.png.cached.dds`) removed, e.g.
`tracks/zengarden/tree_zen_red` or `art/textures/skins/props/helmet/hele_helmet_bronze`.
`category` is a taxonomy id, or DROP for files that are too ambiguous to label (those are dropped,
like files no rule matches). Rules only see names, never pixels; the contact sheets of
`build.py --stage sheets` are how the table was checked by eye.
"""

from __future__ import annotations

import re
from pathlib import PurePosixPath

from models.recipe import label_rules_games
from models.recipe.sources import GAMES  # noqa: F401  (re-exported for callers of the rules)

DROP = label_rules_games.DROP

# Building blocks: a token boundary is the start/end of the key or one of "/_-. ".
_B = r"(?:^|[/_\-. ])"
_E = r"(?:$|[/_\-. 0-9])"


def word(*names: str) -> str:
    """Regex for any of `names` as a whole token (digits may follow: `grass01`)."""
    return _B + "(?:" + "|".join(names) + r")" + _E


def stem_suffix(*names: str) -> str:
    """Regex for a key whose last token is one of `names` (`wall_norm`, `door01/norm`)."""
    return _B + "(?:" + "|".join(names) + r")$"


SKYBOX_FACE = stem_suffix("bk", "dn", "ft", "lf", "rt", "up")

# One rule per line reads as a table; the formatter would explode it.
# fmt: off
RULES: list[tuple[str, str, str]] = [
    # --- not textures of the game world, or not classifiable by name -------------------------
    ("*", r"(^|/)(docs?|pixmaps|tutorials|scenarios|gamerzilla)/", DROP),
    ("*", word("null", "blank", "notexture", "nothumb", "invisible", "invisible_slow", "unlit", "white",
     "black", "grey25", "grey50", "plain", "solid", "test", "temp", "dummy"), DROP),
    ("*", r"shadow|" + word("sshot", "screenshot", "postcard"), DROP),
    *label_rules_games.EARLY,
    ("0ad", r"^maps/random/", DROP),
    ("0ad", r"^art/textures/selection/.*_mask$", "map/mask"),
    ("0ad", r"^art/textures/selection/", DROP),
    # animated water: 60-120 near-identical frames per folder; every tenth frame is plenty
    ("0ad", r"^art/textures/animated/water/\w+/(normal|diffuse)\d*[1-9]$", DROP),
    ("0ad", r"^art/textures/animated/water/\w+/normal\d+$", "map/normal"),
    ("megaglest", r"^tilesets/hell/textures/", DROP),
    ("0ad", r"^art/textures/skins/(temp|campaigns/labels)/", DROP),
    ("supertuxkart", r"^editor/img/", DROP),
    ("supertuxkart", r"_pbr_data$|_default_material", DROP),
    ("redeclipse", r"^maps/", DROP),
    ("redeclipse", r"^jojo/concrete(alpha|kappa|omega|sigma)$", DROP),  # team logos on grey
    # --- sky before map suffixes: sky faces are called `_up`, `_dn`, and STK's `sky_n` is north --
    ("*", r"(^|/)(skies|skyboxes?)/", "sky"),
    ("redeclipse", r"^(elyvisions|freezurbern|mayhem)/", "sky"),
    ("redeclipse", r"^(jojo|unnamed)/[a-z0-9]*" + SKYBOX_FACE, "sky"),
    ("redeclipse", r"^textures/sky$", "sky"),
    ("supertuxkart", r"sky(box)?[_-]?(\d+|top|bottom|side|up|down|[nsewfb])?$", "sky"),
    ("supertuxkart", word("sky", "skybox", "clouds?", "nebula", "nebula_cloud") + r"|sky_ibl|star_back",
     "sky"),
    ("megaglest", r"(^|/)sky", "sky"),
    # --- map types by suffix (each game's own naming) -----------------------------------------
    ("*", stem_suffix("norm", "normal", "normals", "norms", "nm", "nrm", "n2",
     "local") + r"|_normal_|_nm_|(^|[/_-])(norm|normals?|nm)[-_][a-z0-9]{1,2}$|normals\d*$", "map/normal"),
    ("redeclipse", stem_suffix("n") + r"|[0-9]n$|highqualitybrickn$|-n$|waterfalln$|watern$", "map/normal"),
    ("0ad", r"_normal$|geo_waterfall_\w+_normal", "map/normal"),
    ("*", stem_suffix("spec", "specular", "gloss", "glossy", "roughness", "metalness"), "map/specular"),
    ("redeclipse", stem_suffix("s") + r"|[0-9]s$|highqualitybricks$", "map/specular"),
    ("*", r"(^|/)ao/|" + stem_suffix("ao", "height", "heightmap", "bump", "disp", "displace", "displacement",
     "occlusion"), "map/height"),
    ("redeclipse", stem_suffix("z") + r"|[0-9]z$|highqualitybrickz$|dudv$", "map/height"),
    ("*", stem_suffix("glow", "emissive", "emission", "emit", "illum", "lum", "lit"), "map/emissive"),
    ("redeclipse", r"_(g|i|add)$|[0-9]lit$|pub3-g$", "map/emissive"),  # `-g` is a colour variant
    ("0ad", r"^art/textures/skins/props/(head|helmets?)/", "character"),  # theatre and helmet masks
    ("*", stem_suffix("mask", "masks", "colormask", "colorization_mask", "teamcolor", "team_color",
     "alpha") + r"|_mask_|(^|/)(alphamaps|blendbrush)/|(^|[/_-])masks?[-_]?[a-z0-9]{1,3}$", "map/mask"),
    *label_rules_games.LATE,
    # --- user interface -----------------------------------------------------------------------
    ("*", r"(^|/)fonts?/", "ui/font"),
    ("0ad", r"^art/textures/(ui|cursors)/", "ui/hud"),
    ("0ad", r"^art/icons/", "ui/hud"),
    ("0ad", r"^art/textures/animated/minimap", "ui/hud"),
    ("redeclipse", r"^(crosshairs|textures/(keys|modes|privs|rewards|servers|alerts|hud|weapons|images))/",
     "ui/hud"),
    ("redeclipse",
     r"^textures/(action|background|chat|checkbox\w*|radiobox\w*|checkdisable|radiodisable|"
     r"cube2badge|dead|default|dominat\w+|icon|info|logo|menu|player|point|progress|progring|question|"
     r"spectator|team\w*|textskin\w*|waiting|warning|[a-z]*badge)$",
     "ui/hud"),
    ("redeclipse", r"^jojo/(interface|logo|data)\d*|^vanities/badge/", "ui/hud"),
    ("supertuxkart", r"^(gui|skins)/", "ui/hud"),
    ("supertuxkart", r"^editor/icons/", "ui/hud"),
    ("supertuxkart", word("icon", "icon\\d+") + r"|^karts/\w+/\w*icon", "ui/hud"),
    ("supertuxkart", r"^supertuxkart_\d+$", "ui/hud"),
    ("megaglest", r"^data/core/(menu/textures|misc_textures|faction_textures)/", "ui/hud"),
    ("megaglest",
     r"/(units|upgrades)/[^/]+/images/|/resources/[^/]+/images/|^techs/[^/]+/factions/[^/]+/[^/]+$",
     "ui/hud"),
    # --- effects ------------------------------------------------------------------------------
    ("0ad", r"^art/textures/particles/", "effect"),
    ("redeclipse", r"^(particles|caustics)/", "effect"),
    ("redeclipse", r"^weapons/\w+/proj/|^projectiles/(cartridge|shell)/", DROP),
    ("*", r"(^|/)particles?/|" + word("particle", "particles", "spark", "sparks", "flame", "fire", "smoke",
     "explosion", "explode", "flare", "lensflare", "glow_\\w+", "gfx", "gfx_glow", "beam", "trail", "caustic",
     "caustics", "nitro", "slipstream", "splash", "bubble", "lightning", "zap", "muzzle", "halo\\w*",
     "light_halo\\w*"), "effect"),
    ("supertuxkart", r"^textures/(gfx|explode|item_spark|particle)", "effect"),
    # --- terrain surfaces ---------------------------------------------------------------------
    ("0ad", r"^art/textures/animated/water/", "surface/water"),
    ("0ad", r"^art/textures/terrain/types/water/", "surface/water"),
    # MegaGlest surfaces 1–5 are grass, alt. grass, road, stone, custom, but tilesets reuse them freely
    ("megaglest", r"^tilesets/winter/textures/surface[125]", "surface/snow"),
    ("megaglest", r"^tilesets/winter_forest/textures/surface1", "surface/snow"),
    ("megaglest",
     r"^tilesets/winter_forest/textures/surface2|^tilesets/(karningul|fernland)/textures/surface5"
     r"|^tilesets/pine_peat/textures/surface4",
     DROP),
    ("megaglest", r"^tilesets/(winter|winter_forest)/textures/surface3", "surface/rock"),
    ("megaglest", r"^tilesets/scrub_land/textures/surface[123]", "surface/ground"),
    ("megaglest", r"^tilesets/scrub_land/textures/surface4", "surface/tile"),
    ("megaglest", r"^tilesets/scrub_land/textures/surface5", "surface/rock"),
    ("megaglest", r"^tilesets/(meadow|pine_peat|winter_forest|desert2)/textures/surface5", "surface/ground"),
    ("megaglest", r"^tilesets/pine_peat/textures/surface2", "surface/ground"),
    ("megaglest", r"^tilesets/[^/]+/textures/surface[125]", "surface/grass"),
    ("megaglest", r"^tilesets/[^/]+/textures/surface3", "surface/ground"),
    ("megaglest", r"^tilesets/[^/]+/textures/surface4", "surface/rock"),
    ("megaglest", r"^tilesets/[^/]+/textures/water", "surface/water"),
    # --- things (before material keywords: a "wooden_cart" is a vehicle, a "stone_statue" a prop) -
    ("0ad", r"^art/textures/skins/skeletal/", "character"),
    ("0ad", r"^art/textures/skins/props/(head|horse|camel|helmets?|armor)/", "character"),
    ("0ad", r"^art/textures/skins/props/(shield|weapon|quivers|sheaths)/", "weapon"),
    ("0ad", r"^art/textures/skins/props/standards/", "prop"),
    ("0ad", r"^art/textures/skins/props/[^/]*(sail|oar|ship_shroud|wagon|wrld_cart|garrison_cart|chariot)",
     "vehicle"),
    ("0ad", r"^art/textures/skins/props/[^/]*(cape|cloth|blanket|banner|kart_standard|wrld_sack)",
     "surface/fabric"),
    ("0ad", r"^art/textures/skins/props/[^/]*ground_decal_(ice|snow)", "surface/snow"),
    ("0ad", r"^art/textures/skins/props/[^/]*(puddle|water_|well_water)", "surface/water"),
    ("0ad", r"^art/textures/skins/props/[^/]*(ground_decal_leaves|tree_|cypress|hay)", "vegetation"),
    ("0ad", r"^art/textures/skins/props/[^/]*(decal|ground_|dirt_|road_|footpath|farmland|gardens_turf)",
     "surface/ground"),
    ("0ad", r"^art/textures/skins/props/(wood_[a-e]|wood_burned|wrld_wood)", "surface/wood"),
    ("0ad", r"^art/textures/skins/props/(marble|rubble|wrld_block|wrld_stoneblocks)", "surface/rock"),
    ("0ad", r"^art/textures/skins/props/hele_tile", "surface/tile"),
    ("0ad", r"^art/textures/skins/props/blood", "effect"),
    ("0ad",
     r"^art/textures/skins/props/[^/]*(quiver|scabbard|prop_weap|jav_bag|shield|sheilds|sling_pouch|"
     r"siege_artillery|arms)",
     "weapon"),
    ("0ad", r"^art/textures/skins/props/[^/]*(head|skeleton|helm|collar|wings|horns|floppyboot|dude)",
     "character"),
    ("0ad",
     r"^art/textures/skins/props/(pyramid_great|[^/]*(gate|palisade|wall|pediment|bridge|scaffold|turret|"
     r"garrison|rooftile|catafalque|tent|turf|decor))",
     "building"),
    ("0ad", r"^art/textures/skins/props/[^/]*(howdah|yellow|marker|hero-star|symbol|faravahar|aura)", DROP),
    ("0ad",
     r"^art/textures/skins/structural/\w*(ship|trireme|bireme|quinquereme|boat|ram|chariot|cart|"
     r"siege|wagon|ballista|catapult|onager|lithobolos|oxybeles)",
     "vehicle"),
    ("0ad", r"^art/textures/skins/structural/\w*(statue|sphynx|sphinx|lion|bixie|chakra|pillar)", "prop"),
    ("0ad", r"^art/textures/skins/structural/", "building"),
    ("0ad",
     r"^art/textures/skins/gaia/\w*(tree|bush|palm|pine|oak|fern|grass|plant|flower|reed|leaves|"
     r"trunk|shrub|bamboo|cedar|willow|poplar|cypress|baobab|acacia|mangrove|papyrus|cattail|lilli|teak|"
     r"banyan|birch|maple|elm|beech|fir_|juniper|tamarix|carob|olive|orchard|berr|vine|lavender|poppy|"
     r"farming|rice|giantcane|underbrush|mushroom|fol_|banana)",
     "vegetation"),
    ("0ad", r"^art/textures/skins/gaia/\w*(rock|stone|cliff|metal|slab|mineral|geo_|quarr)", "surface/rock"),
    ("0ad", r"^art/textures/skins/props/", "prop"),
    ("redeclipse", r"^wicked/wicked(rock|stone|marble)", "surface/rock"),
    ("redeclipse", r"^wicked/wicked(tile)", "surface/tile"),
    ("redeclipse", r"^wicked/wicked(wood)", "surface/wood"),
    ("redeclipse", r"^wicked/(wicked)?(metal)", "surface/metal"),
    ("redeclipse", r"^wicked/wicked(ground)", "surface/ground"),
    ("redeclipse", r"^wicked/wicked(grass|moss)", "surface/grass"),
    ("redeclipse", r"^wicked/wicked(snow)", "surface/snow"),
    ("redeclipse", r"^wicked/(wicked)?(highquality)?brick", "surface/brick"),
    ("redeclipse",
     r"^(philipk/pk0\d|trak/trak[5-7])/(pan_|panel|plates|floor|trim|ceil|base|wall|vertpanel|"
     r"graypanel|trisec|stair|switches)",
     "surface/metal"),
    ("redeclipse", r"^(philipk/pk0\d|trak/trak[5-7])/(light|door|comp)", DROP),
    ("redeclipse", r"^(actors|vanities)/", "character"),
    ("redeclipse", r"^weapons/", "weapon"),
    ("redeclipse", r"^vegetation/|^dziq/(hanging_greens|meshtex/palm)|^luckystrike/plant/", "vegetation"),
    ("redeclipse",
     r"^(nieb|nobiax|props|john|snipergoth|acerspyro|mikeplus64/(crate|drum|jar|lampthing|"
     r"wittlewamp)|luckystrike/(barrel|banner|door|fan|jumpad|lamp|torche)|dziq/(door01|girder|hydrant|"
     r"jumppad|vent_end|volt_sign)|unnamed/door0|jojo/(barrel|teamalpha|teamkappa|teamomega|teamsigma))",
     "prop"),
    ("supertuxkart",
     r"^karts/\w+/\w*(body|head|face|eye|iris|hair|hat|cloth|scarf|skin|leg|arm|hand|"
     r"foot|feet|fur|beak|tail|ear|wing|tux|sara|pepper|konqi|kiki|nolok|gnu|puffy|wilber|emule|"
     r"pidgin|suzanne|xue|adiumy_dif|amanda|gavroche)",
     "character"),
    ("supertuxkart", r"^karts/", "vehicle"),
    ("supertuxkart", r"^models/", "prop"),
    ("supertuxkart", r"(^|/)stkflag_", "prop"),  # sponsor boards and posters
    ("supertuxkart", r"waterlily|water_lily", "vegetation"),
    ("megaglest",
     r"^tilesets/[^/]+/models/\w*(tree|bush|flower|grass|plant|palm|fern|cactus|leaf|leaves|"
     r"mushroom|reed|log|stump|vine|shrub|birch|pine|oak|willow|root)",
     "vegetation"),
    ("megaglest", r"^tilesets/[^/]+/models/\w*(stone|rock|cliff|boulder|crystal)", "surface/rock"),
    ("megaglest",
     r"^tilesets/[^/]+/models/\w*(statue|obelisk|hanged|impaled|pillar|column|ruin|"
     r"well|fence|sign|skull|bones|tomb|grave)",
     "prop"),
    ("megaglest", r"^tilesets/[^/]+/models/\w*water", "surface/water"),
    ("megaglest", r"/units/(mistletoe_tree|reed)/", "vegetation"),
    ("megaglest",
     r"/units/(air_ballista|airship|ballista|battering_ram|battle_machine|catapult|ornithopter|"
     r"flying_carpet)/",
     "vehicle"),
    ("megaglest",
     r"/units/(aerodrome|archmage_tower|barracks|beehive|big_tent|blacksmith|blacksmith_shop|"
     r"bone_tent|castle|defense_tower|desert_camp|elephant_cage|energy_source|farm|forum|gladiator_school|"
     r"guard_tower|horse_farm|house|library|mage_tower|main_teepee|mead_bar|military_camp|minaret|obelisk|"
     r"palace|pyramid|round_tent|summoner_guild|technodrome|temple|tent|tower_of_souls|training_camp|"
     r"valhalla)/",
     "building"),
    ("megaglest", r"/units/(air_pyramid|campfire|eagle_pillar|snake_basket|sphinx|thor_totem|totem)/", DROP),
    ("megaglest", r"/units/[^/]+/(models|construction_models|destruction_models)/", "character"),
    ("megaglest", r"/resources/(gold|stone)/models/", "surface/rock"),
    # --- materials by keyword (any game) ------------------------------------------------------
    ("*", word("tree\\w*", "bark", "leaf", "leaves", "foliage", "bush\\w*", "plants?", "flowers?", "fern\\w*",
     "palm\\w*", "pine\\w*", "branch\\w*", "trunk", "ivy", "vines?", "jungle_vines", "cactus", "agave",
     "bamboo\\w*", "hedge", "shrub", "reeds?", "grass_alpha", "corn_plant", "water_lily", "seaweed",
     "sagebrush", "roots", "liana", "tree\\d*", "willow\\w*", "birch", "conifer\\w*", "oak", "mushroom\\w*",
     "moss_plant", "flower\\d\\w*", "lily", "cocoa_tree_leaf", "dead_tree", "low_palm_tree"), "vegetation"),
    ("*", word("sky(?!scraper)\\w*", "clouds?", "stars?", "space\\d*"), "sky"),
    ("*", word("water\\w*", "lava\\w*", "magma\\w*", "sea", "ocean\\w*", "river", "lake", "swamp_water",
     "slime", "liquid", "waterfall\\w*"), "surface/water"),
    ("*", word("snow\\w*", "ice\\d*", "ice_\\w+", "icy", "frozen\\w*", "glacier"), "surface/snow"),
    ("*", word("bricks?\\w*", "masonry", "brickwall", "beige_bricks", "city_bricks", "oldbricks",
     "brick_wall\\w*", "painted_brick\\w*", "paintedbrick\\w*", "highqualitybrick"), "surface/brick"),
    ("*", word("tiles?", "tile\\d+\\w*", "ceramic", "mosaic\\w*", "bathtile\\w*", "floor_tile\\w*",
     "windowstile\\w*", "pooptile\\w*", "sftile\\w*", "decktiles\\w*", "retile", "paving\\w*", "parquet"),
     "surface/tile"),
    ("*", word("grass\\w*", "lawn", "meadow", "turf", "rock_to_grass"), "surface/grass"),
    ("*", word("rock\\w*", "stone\\w*", "cliff\\w*", "cobble\\w*", "boulder\\w*", "marble\\w*", "granite",
     "pebbles?", "cave\\w*", "karst\\w*", "bed_rock", "wall_rock", "rock_strata", "redrock\\d*", "blackrock",
     "gravel\\w*", "canyon\\w*", "mossy_stone\\w*", "dq_stones\\w*", "dryone\\w*"), "surface/rock"),
    ("*", word("dirt\\w*", "mud\\w*", "sand\\w*", "soil", "earth", "ground\\w*", "dust\\w*", "desert",
     "cracked", "gravel_side", "road\\w*", "track\\d*", "path", "forest_floor", "hacienda_ground\\w*",
     "yellow_dirt", "dirt2sand", "beach\\w*", "clay", "terrain"), "surface/ground"),
    ("*", word("wood\\w*", "wooden\\w*", "planks?\\w*", "boards?\\w*", "timber", "log\\w*", "beam",
     "wood_beam", "wood_planks\\d*", "old_wood", "japanwood_bridge", "oldwood"), "surface/wood"),
    ("*", word("metal\\w*", "rust\\w*", "steel\\w*", "iron\\w*", "grate\\w*", "grating", "treadplate\\w*",
     "tread_plate", "pipes?\\w*", "chrome", "aluminium", "copper", "bronze\\w*", "girder\\w*", "metaloverlap",
     "panels?\\w*", "ribbed_steel", "grey_metal", "light_gray_metal", "vertpanel\\w*", "graypanel\\w*",
     "holes\\d\\w*", "ribs\\d\\w*", "pits\\d\\w*", "vent\\d*", "duct", "container\\d*", "solar_cell\\d*",
     "wires\\d*", "comp\\d\\w*"), "surface/metal"),
    ("*", word("concrete\\w*", "conc\\w*", "plaster\\w*", "asphalt\\w*", "stucco\\w*", "cement", "mortar",
     "city_asphalt\\w*", "city_concrete", "dirtyconcrete", "concrete_forms\\w*"), "surface/concrete"),
    ("*", word("fabric\\w*", "cloth\\w*", "carpet\\w*", "leather\\w*", "curtain\\w*", "rug", "tapis",
     "wicker\\w*", "colorfabric\\w*", "cotton", "silk", "wool", "canvas", "rope", "natural_rope", "flag\\w*",
     "banner\\w*", "tent"), "surface/fabric"),
    ("*", word("door\\w*", "window\\w*", "roof\\w*", "facade", "house\\w*", "building\\w*", "wall", "walls",
     "castle\\w*", "temple\\w*", "church\\w*", "tower\\w*", "pyramid\\w*", "hut", "cottage\\w*", "mansion",
     "barn", "mill\\w*", "wind_mill", "stklib_old_house\\w*", "low_poly_building\\w*",
     "half_timbered_house\\w*", "wallpaper_mansion", "inn", "tux_inn", "castelwall", "arc\\d*"), "building"),
    ("*", word("crate\\w*", "barrel\\w*", "box\\w*", "lamp\\w*", "lantern\\w*", "sign\\w*", "chest\\w*",
     "table", "chair\\w*", "bench", "statue\\w*", "fountain", "well", "fence\\w*", "bottle", "signpost",
     "poster", "painting\\d*", "tire\\w*", "tyre", "cone", "candle\\w*", "bulb", "torch\\w*", "clock\\w*",
     "computer\\w*", "screen\\w*", "tv", "bell", "anchor", "puck", "gift\\w*", "plunger", "jar",
     "pumpkin\\w*", "gramophone\\w*", "furniture", "shelf", "racetrack_tire", "stop_sign", "warning",
     "prayer_flags"), "prop"),
    ("*", word("car", "cars", "kart\\w*", "truck", "ship\\w*", "boat\\w*", "plane", "train", "locomotive",
     "steam_locomotive\\w*", "blimp\\w*", "van", "bus", "tractor", "wagon", "cart", "submarine",
     "low_poly_cars"), "vehicle"),
    ("*", word("face", "head", "body", "eyes?", "hair", "skin", "fur", "person", "people", "crowd\\w*",
     "animal\\w*", "bird\\w*", "fish\\w*", "crab\\w*", "parrot\\w*", "butterfly\\w*", "ants", "piranha\\w*",
     "duck", "goat\\w*", "nessy\\w*", "camel\\w*", "pig", "cow", "sheep", "chicken", "dragon", "monster",
     "robot\\w*", "marsrobot\\d*", "kiki\\w*", "beach_guy\\w*", "girl\\w*", "women\\w*", "guy",
     "silvian_girl\\w*", "gnu\\w*", "tux\\w*", "sara\\w*", "wilbert\\w*"), "character"),
    ("*", word("sword\\w*", "gun\\w*", "rifle\\w*", "pistol\\w*", "shotgun\\w*", "rocket\\w*", "grenade\\w*",
     "bow", "arrows?", "spear\\w*", "axe", "shield\\w*", "weapon\\w*", "cannon\\w*", "blade", "knife",
     "mine\\d*", "zapper\\w*", "flamer\\w*", "claw\\w*"), "weapon"),
]
# fmt: on

_COMPILED = [(game, re.compile(pattern), category) for game, pattern, category in RULES]
_CAMEL = re.compile(r"(?<=[a-z0-9])(?=[A-Z])")
_EXTENSIONS = re.compile(r"(\.(png|dds|tga|jpg|jpeg|bmp|rgba?|sgi|bw))+(\.cached\.dds)?$", re.IGNORECASE)
_RETINA = re.compile(r"@[234]x$")
# Per-game rewrites of the key before matching: TORCS's `_n` means "no mipmap", not a normal map,
# and its track folders (`tracks/road/e-track-3/`) would read as road and track keywords.
KEY_FIXES = {"torcs": [(re.compile(r"_n$"), ""), (re.compile(r"^tracks/.*/"), "tracks/")]}


def label_key(relpath: str, game: str | None = None) -> str:
    """The normalised name the rules match: `Tracks/zen/TreeZenRed.png` → `tracks/zen/tree_zen_red`."""
    path = PurePosixPath(relpath.replace("\\", "/"))
    stem = _RETINA.sub("", _EXTENSIONS.sub("", path.name))
    parts = [*path.parent.parts, stem] if str(path.parent) != "." else [stem]
    key = "/".join(_CAMEL.sub("_", p).lower() for p in parts)
    for pattern, replacement in KEY_FIXES.get(game, ()):
        key = pattern.sub(replacement, key)
    return key


# Trailing frame numbers and compass directions (`walk_se_03`, `spin-39`, `road-n-ne`, `ship+2`).
_FRAME_TOKENS = re.compile(r"(?:[ _\-.+~]+(?:\d+(?:\.\d+)?|n|ne|e|se|s|sw|w|nw|pc)|\d+)+$")


def object_key(game: str, relpath: str) -> str:
    """The object a file shows, so that animation frames and rotations count once: the game's
    object folder where it keeps one per object (label_rules_games.OBJECT_FOLDERS), else the key
    without trailing frame numbers and directions."""
    key = label_key(relpath, game)
    folder = label_rules_games.OBJECT_FOLDERS.get(game)
    if folder:
        match = re.match(folder, key)
        if match:
            return match.group(0)
    head, _, stem = key.rpartition("/")
    return f"{head}/{_FRAME_TOKENS.sub('', stem) or stem}"


def label(game: str, relpath: str) -> str | None:
    """Taxonomy id for one file, or None when no rule places it (or a DROP rule matched)."""
    key = label_key(relpath, game)
    for rule_game, pattern, category in _COMPILED:
        if rule_game in ("*", game) and pattern.search(key):
            return None if category == DROP else category
    return None


def matching_rule(game: str, relpath: str) -> int | None:
    """Index in RULES of the rule that decides `relpath` (for reports and debugging)."""
    key = label_key(relpath, game)
    for index, (rule_game, pattern, _category) in enumerate(_COMPILED):
        if rule_game in ("*", game) and pattern.search(key):
            return index
    return None
