"""The label rules of the fifteen games added in v2 (label_rules.py splices them into its one table).

EARLY rules run before the shared map-type suffix rules: they drop what is not a texture, and
decide where a game's own conventions differ from the shared ones (UFO:AI `_gm` glow and
`_sm`/`_rm` specular, FlightGear light maps, button states called `_normal` in UI-heavy games,
Wesnoth's weapon icons). LATE rules run after the map-type rules and before the shared keyword
rules: folder conventions (a FlightGear AI aircraft is a vehicle livery, a Widelands worker a
character). What neither places falls through to the keyword rules, or to no label.
"""

from __future__ import annotations

DROP = "-"

# fmt: off
EARLY: list[tuple[str, str, str]] = [
    # --- UFO:AI: screenshots, tool textures, and its own map suffixes -------------------------
    ("ufoai", r"^pics/(maps/shots|background|tutorial|techs|geoscape|menu)/|^models/geoscape/|"
     r"^textures/tex_(common|anim|pics|ufo)/", DROP),
    ("ufoai", r"_gm$|_glow$", "map/emissive"),
    ("ufoai", r"_(sm|rm)$", "map/specular"),
    ("ufoai", r"_hm$", "map/height"),
    # --- FlightGear ---------------------------------------------------------------------------
    ("flightgear", r"^(docs|gui|aircraft/(instruments|instruments-3d|ufo|generic)|textures/(signs|symbols)|"
     r"models/astro)/|thumbnail|splash|uv[-_]?map|overlay|relief|mask", DROP),
    ("flightgear", r"light_?map|(^|[/_-])lm($|[/_-])|lit$", "map/emissive"),
    ("flightgear", r"^textures/sky/|^models/weather/", "sky"),
    ("flightgear", r"^textures/trees/", "vegetation"),
    ("flightgear", r"^textures/runway/", "surface/concrete"),
    ("flightgear", r"^textures/terrain\.winter/", "surface/snow"),
    ("flightgear", r"^textures/terrain/\w*(sand|dune|desert|beach|dirt|soil|mud|gravel|crop|farm|"
     r"field|scrub|barren|tundra|heath|dry)", "surface/ground"),
    ("flightgear", r"^textures/terrain/\w*(grass|pasture|golf|meadow|lawn|herb|green|park)", "surface/grass"),
    ("flightgear", r"^textures/terrain/\w*(forest|wood|shrub|tree|deciduous|jungle|orchard|vineyard|"
     r"plantation|rainforest|evergreen|mixed)", "vegetation"),
    ("flightgear", r"^textures/terrain/\w*(rock|cliff|mountain|stone|lava|volcan|quarry)", "surface/rock"),
    ("flightgear", r"^textures/terrain/\w*(snow|ice|glacier|frozen)", "surface/snow"),
    ("flightgear", r"^textures/terrain/\w*(water|lake|sea|ocean|marsh|bog|swamp|river|reservoir)",
     "surface/water"),
    ("flightgear", r"^textures/terrain/\w*(airport|asphalt|concrete|tarmac|runway|taxiway|road|freeway)",
     "surface/concrete"),
    ("flightgear", r"^textures/terrain/", DROP),  # city/industrial aerial views and mixed classes
    ("flightgear", r"^textures/water/", "surface/water"),
    # --- Wesnoth ------------------------------------------------------------------------------
    ("wesnoth", r"^campaigns/|^core/images/(help|lobby|maps|misc|unit_env|flags|terrain/(chasm|"
     r"embellishments|fog|void|off-map|symbols|unwalkable|portals|light|map-specific|masks|bridge))/|"
     r"^core/images/terrain/[^/]+$", DROP),
    ("wesnoth", r"^core/images/attacks/", "weapon"),
    ("wesnoth", r"glow", "effect"),  # glowing runes and halos, not glow maps
    ("wesnoth", r"^core/images/(icons|themes|buttons|dialogs|cursors|game-icons|logo|portraits)/", "ui/hud"),
    # --- TORCS (`_n` is "no mipmap": the key drops it, see label_rules.KEY_FIXES) --------------
    ("torcs", r"^(menu|data/img|categories|config)/|(^|/)(logo|background|preview|outline)\d*$", DROP),
    ("torcs", r"(^|/)bump", "map/height"),
    # --- Minetest -----------------------------------------------------------------------------
    ("minetest", r"^devtest/|_(inventory|item|lump|ingot|tool\w*|pick\w*|shovel\w*|axe\w*|hoe\w*)$|"
     r"^\w+/mods/(dye|tnt|carts|xpanes|screwdriver|binoculars|map|keys|bucket|boats|stairs|walls)/|"
     r"mineral_|_crack|_hotbar|_(selected|wield)", DROP),
    ("minetest", r"(^|/)(gui_|heart|bubble|crosshair|creative_|craftguide|sfinv)|/textures/base/", "ui/hud"),
    ("minetest", r"_(wood|planks?)$|junglewood$|aspen_wood$|acacia_wood$|pine_wood$", "surface/wood"),
    ("minetest", r"(^|_)(tree|trunk|leaves|needles|sapling|grass_\d|papyrus|cactus|jungletree)", "vegetation"),
    ("minetest", r"/mods/(flowers|farming)/", "vegetation"),
    ("minetest", r"/mods/wool/|/mods/beds/", "surface/fabric"),
    ("minetest", r"_(block|steel\w*|copper\w*|bronze\w*|tin\w*)$|steelblock|copperblock", "surface/metal"),
    # --- FreedroidRPG -------------------------------------------------------------------------
    ("freedroidrpg", r"^graphics/(backgrounds|light_radius_chunks)/|^graphics/[^/]+$|^(title|credits)", DROP),
    ("freedroidrpg", r"(^|/)inv_image", "ui/hud"),
    ("freedroidrpg", r"^graphics/items/(weapons|grenades|nailgun|shields)/", "weapon"),
    # --- Hedgewars ---------------------------------------------------------------------------
    ("hedgewars", r"^graphics/missions/|(^|/)(land_tex|land_back_tex|chunk|border|horizont\w*|tmp|"
     r"preview|icon\w*)$|^maps/", DROP),
    ("hedgewars", r"(^|/)(sky\w*|clouds\w*)$", "sky"),
    # --- Endless Sky ---------------------------------------------------------------------------
    ("endlesssky", r"^(_menu|land|planet|scene|label|star|thumbnail|portrait)/", DROP),
    ("endlesssky", r"^(ui|icon|outfit)/", "ui/hud"),
    # --- Naev: `_normal` etc. are button states --------------------------------------------------
    ("naev", r"^gfx/(planet|overlays/portrait|bkg/star)|^gfx/ship/\w+/\w*_engine$", DROP),
    ("naev", r"^gfx/(gui|commodity|loading|logo|map|outfit/store|overlays|portraits)/|^gfx/ship/\w+/\w*_comm$",
     "ui/hud"),
    # --- OpenClonk -----------------------------------------------------------------------------
    ("openclonk", r"\.ocs/|(^|/)title$|^objects\.ocd/(goals|rules|libraries|helpers)\.ocd/", DROP),
    ("openclonk", r"_nrm$|(^|/|_)normal", "map/normal"),
    ("openclonk", r"_shape$", DROP),  # colour-coded material regions, not masks
    ("openclonk", r"^graphics\.ocg/\w*clouds", "sky"),
    ("openclonk", r"^graphics\.ocg/|^objects\.ocd/(icons|hud)\.ocd/", "ui/hud"),
    # --- Warzone 2100: the lower-resolution copies of each terrain tile go --------------------------
    ("warzone2100", r"^texpages/tertiles\w+-(16|32|64)/|^texpages/bdrops/|^images/[^/]+$", DROP),
    ("warzone2100", r"^images/", "ui/hud"),
    ("warzone2100", r"_tcmask$", "map/mask"),
    # --- Widelands: `_pc` images are the player-colour masks of each animation -------------------
    ("widelands", r"^(campaigns|maps|world/resources|world/pics|tribes/initialization)/|minimap", DROP),
    ("widelands", r"^(images|templates)/|^tribes/wares/|(^|/)menu(_\w+)?$", "ui/hud"),
    ("widelands", r"_pc$", "map/mask"),
    # --- Unknown Horizons ----------------------------------------------------------------------
    ("unknownhorizons", r"^gfx/(atlas|terrain/(resources|ambient)|[^/]+$)|^gui/images/(logos|background)/|"
     r"^gfx/[^/]+$", DROP),
    ("unknownhorizons", r"^gui/|^gfx/misc/status_icons/", "ui/hud"),
    # --- SuperTux ------------------------------------------------------------------------------
    ("supertux", r"^(levels|images/credits|images/worldmap|images/tiles/auxiliary)/|editor", DROP),
    ("supertux", r"^images/engine/(menu|hud|mobile|editor)/", "ui/hud"),
    ("supertux", r"glow", "effect"),
    ("supertux", r"^images/powerups/", "prop"),
    # --- Scorched 3D ---------------------------------------------------------------------------
    ("scorched3d", r"^(avatars|images)/|/data/windows/", "ui/hud"),
    ("scorched3d", r"/data/landscapes/", DROP),  # height maps and map masks
    ("scorched3d", r"/data/tanks/", "vehicle"),
    ("scorched3d", r"/data/accessories/", "weapon"),
]

LATE: list[tuple[str, str, str]] = [
    # --- UFO:AI ---------------------------------------------------------------------------------
    ("ufoai", r"^pics/(sfx|flares)/", "effect"),
    ("ufoai", r"^pics/", "ui/hud"),
    ("ufoai", r"^models/(aliens|civilians|soldiers)/", "character"),
    ("ufoai", r"^models/(aircraft|objects/(aircraft|cars|trucks|vehicles))/|^textures/tex_vehicles/", "vehicle"),
    ("ufoai", r"^models/weapons/", "weapon"),
    ("ufoai", r"^models/objects/vegi/", "vegetation"),
    ("ufoai", r"^models/objects/|^textures/tex_(furniture|shop|tech|lights|doors)/", "prop"),
    ("ufoai", r"^textures/tex_streets/", "surface/concrete"),
    # --- FlightGear: AI aircraft are liveries; models by folder ---------------------------------
    ("flightgear", r"^ai/aircraft/|^models/(aircraft|transport|maritime|airport/pushback|geometry/"
     r"(kc-130|rp-3|nimitz|clemenceau))/", "vehicle"),
    ("flightgear", r"^models/effects/|^models/geometry/\w*(smoke|puff|flare|tracer)", "effect"),
    ("flightgear", r"^(models/(buildings|commercial|residential|agriculture|industrial|airport/jetway)|"
     r"scenery/objects)/", "building"),
    ("flightgear", r"^aircraft/c172p/", DROP),  # cockpit panels and liveries mixed in one folder
    # --- Wesnoth --------------------------------------------------------------------------------
    ("wesnoth", r"^core/images/units/.*(boat|galleon|ship|transport|ballista|catapult|tank)", "vehicle"),
    ("wesnoth", r"^core/images/units/", "character"),
    ("wesnoth", r"^core/images/(halo|projectiles)/", "effect"),
    ("wesnoth", r"^core/images/terrain/grass/", "surface/grass"),
    ("wesnoth", r"^core/images/terrain/(sand|flat)/", "surface/ground"),
    ("wesnoth", r"^core/images/terrain/frozen/", "surface/snow"),
    ("wesnoth", r"^core/images/terrain/(water|swamp)/", "surface/water"),
    ("wesnoth", r"^core/images/terrain/(hills|mountains|desert_mountains|cave|walls)/", "surface/rock"),
    ("wesnoth", r"^core/images/terrain/forest/", "vegetation"),
    ("wesnoth", r"^core/images/terrain/(castle|village)/", "building"),
    ("wesnoth", r"^core/images/terrain/interior/\w*(rug|carpet)", "surface/fabric"),
    ("wesnoth", r"^core/images/terrain/interior/\w*(wood|plank)", "surface/wood"),
    ("wesnoth", r"^core/images/terrain/interior/", "surface/tile"),
    ("wesnoth", r"^core/images/items/\w*(sword|axe|bow|spear|mace|staff|dagger|hammer)", "weapon"),
    ("wesnoth", r"^core/images/items/", "prop"),
    ("wesnoth", r"^core/images/scenery/\w*(village|windmill|tower|temple|house|castle|monolith|lighthouse)",
     "building"),
    # --- TORCS ------------------------------------------------------------------------------------
    ("torcs", r"^(cars|wheels)/|^drivers/.*/(car|p406)", "vehicle"),
    ("torcs", r"(^|/)driver", "character"),
    # --- Minetest -----------------------------------------------------------------------------------
    ("minetest", r"/mods/(doors|vessels)/|_(chest\w*|bookshelf|furnace\w*|sign\w*|torch\w*|ladder\w*|fence\w*)$",
     "prop"),
    ("minetest", r"_(sword\w*)$", "weapon"),
    ("minetest", r"/mods/(butterflies|fireflies)/", "character"),
    # --- FreedroidRPG --------------------------------------------------------------------------------
    ("freedroidrpg", r"^graphics/(blasts|bullets|radial_spells)/", "effect"),
    ("freedroidrpg", r"^graphics/(droids|tux_motion_parts)/", "character"),
    ("freedroidrpg", r"^graphics/items/(armours|helmets)/", "character"),
    ("freedroidrpg", r"^graphics/items/", "prop"),
    ("freedroidrpg", r"^graphics/skill_icons/|^gui/", "ui/hud"),
    ("freedroidrpg", r"^graphics/floor_tiles/\w*(grass)", "surface/grass"),
    ("freedroidrpg", r"^graphics/floor_tiles/\w*(water)", "surface/water"),
    ("freedroidrpg", r"^graphics/floor_tiles/\w*(sand|dirt|desert|mud)", "surface/ground"),
    ("freedroidrpg", r"^graphics/floor_tiles/\w*(carpet)", "surface/fabric"),
    ("freedroidrpg", r"^graphics/floor_tiles/\w*(wood)", "surface/wood"),
    ("freedroidrpg", r"^graphics/floor_tiles/\w*(metal|grate)", "surface/metal"),
    ("freedroidrpg", r"^graphics/floor_tiles/", "surface/tile"),
    # --- Hedgewars -------------------------------------------------------------------------------------
    ("hedgewars", r"^graphics/flags/|^graphics/ammo_menu/|^graphics/[^/]*(icon|button|arrow|cursor|slot)",
     "ui/hud"),
    ("hedgewars", r"^graphics/(hats|hedgehog)/", "character"),
    ("hedgewars", r"^graphics/am_", "weapon"),
    ("hedgewars", r"^graphics/graves/", "prop"),
    ("hedgewars", r"^forts/", "building"),
    ("hedgewars", r"(^|/)(blue_?water|sd_?water|water\w*)$", "surface/water"),
    ("hedgewars", r"(^|/)(flake|droplet|splash|sd_splash|sd_droplet|sd_flake)\w*$", "effect"),
    ("hedgewars", r"^themes/\w+/\w*(plant|tree|flower|bush|fern|leaf|leaves|grass|cactus|mushroom|liana|palm|"
     r"bamboo|vine|fleur)", "vegetation"),
    ("hedgewars", r"^themes/", "prop"),  # theme objects: surfboards, tyres, kites, statues
    # --- Endless Sky -----------------------------------------------------------------------------------
    ("endlesssky", r"^asteroid/", "surface/rock"),
    ("endlesssky", r"^(effect|projectile)/", "effect"),
    ("endlesssky", r"^ship/", "vehicle"),
    ("endlesssky", r"^hardpoint/", "weapon"),
    # --- Naev ------------------------------------------------------------------------------------------
    ("naev", r"^gfx/bkg/", "sky"),
    ("naev", r"^gfx/(outfit/space|spfx)/", "effect"),
    ("naev", r"^gfx/ship/", "vehicle"),
    # --- OpenClonk -------------------------------------------------------------------------------------
    ("openclonk", r"^objects\.ocd/(animals|clonk)\.ocd/|^decoration\.ocd/clonk\.ocd/", "character"),
    ("openclonk", r"^objects\.ocd/effects\.ocd/", "effect"),
    ("openclonk", r"^objects\.ocd/vehicles\.ocd/", "vehicle"),
    ("openclonk", r"^objects\.ocd/(structures)\.ocd/|^decoration\.ocd/village\.ocd/", "building"),
    ("openclonk", r"^(objects|decoration)\.ocd/vegetation\.ocd/", "vegetation"),
    ("openclonk", r"^objects\.ocd/items\.ocd/(weapons|tools/\w*(sword|bow|club|javelin|musket|grenade))",
     "weapon"),
    ("openclonk", r"^objects\.ocd/items\.ocd/|^decoration\.ocd/(room|misc|relics)\.ocd/", "prop"),
    # --- Warzone 2100 ------------------------------------------------------------------------------------
    ("warzone2100", r"^texpages/tertilesc1", "surface/ground"),
    ("warzone2100", r"^texpages/tertilesc2", "surface/concrete"),
    ("warzone2100", r"^texpages/tertilesc3", "surface/snow"),
    ("warzone2100", r"^texpages/page-\d+-[\w-]*weapon", "weapon"),
    ("warzone2100", r"^texpages/page-\d+-[\w-]*(build|bunker|struct|factory|wall|defen)", "building"),
    ("warzone2100", r"^texpages/page-\d+-[\w-]*(fx|effect|explo)", "effect"),
    ("warzone2100", r"^texpages/page-\d+-[\w-]*(droid|body|propulsion|vtol|cyborg)", "vehicle"),
    # --- Widelands -------------------------------------------------------------------------------------
    ("widelands", r"^tribes/buildings/", "building"),
    ("widelands", r"^tribes/workers/|^world/critters/", "character"),
    ("widelands", r"^tribes/ships/", "vehicle"),
    ("widelands", r"^tribes/immovables/\w*(field|vine|reed|corn|tree|berry|bush|cotton|blackroot|rye)",
     "vegetation"),
    # --- Unknown Horizons --------------------------------------------------------------------------------
    ("unknownhorizons", r"^gfx/buildings/", "building"),
    ("unknownhorizons", r"^gfx/units/ships/", "vehicle"),
    ("unknownhorizons", r"^gfx/units/", "character"),
    ("unknownhorizons", r"^gfx/terrain/trees/", "vegetation"),
    ("unknownhorizons", r"^gfx/terrain/mountains/", "surface/rock"),
    ("unknownhorizons", r"^gfx/misc/", "prop"),
    # --- SuperTux ------------------------------------------------------------------------------------------
    ("supertux", r"^images/creatures/\w*(flame|fire)", "effect"),
    ("supertux", r"^images/creatures/", "character"),
    ("supertux", r"^images/(particles|objects/(bullets|explosion|water_drop|sparkle))/", "effect"),
    ("supertux", r"^images/background/\w*/\w*(sky|cloud|para|hill|mountain)|^images/background/", "sky"),
    ("supertux", r"^images/(objects|decal)/", "prop"),
    ("supertux", r"^images/tiles/(snow|darksnow)/", "surface/snow"),
    ("supertux", r"^images/tiles/(water|waterfall|lava)/", "surface/water"),
    ("supertux", r"^images/tiles/(castle)/", "surface/rock"),
    ("supertux", r"^images/tiles/(blocks)/", "surface/brick"),
]
# fmt: on

# Games whose objects keep each animation or rotation in a folder of their own: the object is the
# folder (or the given prefix), and one image per object is kept (see dataset.collapse_objects).
OBJECT_FOLDERS: dict[str, str] = {
    "widelands": r"^.*(?=/[^/]+$)",
    "unknownhorizons": r"^gfx/(units/[^/]+/[^/]+/[^/]+|buildings/[^/]+/[^/]+|terrain/[^/]+/[^/]+|[^/]+/[^/]+)(?=/)",
    "freedroidrpg": r"^graphics/(items/[^/]+/[^/]+|items/[^/]+|droids/[^/]+|tux_motion_parts/[^/]+/[^/]+)(?=/)",
    "supertux": r"^images/creatures/[^/]+(?=/)",
    "endlesssky": r"^(asteroid|effect|ship|projectile)/[^/]+(?=/)",
}
