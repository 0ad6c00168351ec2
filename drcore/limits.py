"""Every size limit drx enforces on what people and files hand it, and the model's batch budget, named once.

Plain constants and nothing else: ``db`` imports this module too (it imports
no other part of drcore, no torch), so the database layer, the science and
the pages all refuse with the same numbers. The README's *Limits* table
lists each with where it is enforced; ``tests/test_limits.py`` keeps the two
and ``.streamlit/config.toml`` in step.
"""

#: largest uploaded file, in megabytes (Streamlit's ``server.maxUploadSize`` in ``.streamlit/config.toml``)
MAX_UPLOAD_MB = 50
#: largest photograph accepted, width * height (decompression-bomb guard; drcore.imaging.load_image)
MAX_IMAGE_PIXELS = 60_000_000
#: shortest accepted photograph side, in pixels
MIN_IMAGE_SIDE = 128

#: most vertices of one drawn or imported shape (polygon, free-draw path); db.geometry.Geometry.create
MAX_SHAPE_VERTICES = 5_000
#: widest free-draw stroke, in original pixels
MAX_STROKE_WIDTH = 500.0
#: largest circle radius, in original pixels (more than any accepted photograph's side)
MAX_CIRCLE_RADIUS = 20_000.0
#: largest COCO file ``drx import coco`` reads, in bytes (checked before it is read)
MAX_COCO_BYTES = 64 * 1024 * 1024
#: most annotations in one COCO file
MAX_COCO_ANNOTATIONS = 200_000
#: coordinates of expert annotation files (DiaretDB1 XML) must lie within this many pixels of the origin
MAX_ANNOTATION_COORDINATE = 100_000.0

#: account and grader names: at most this many characters (after NFKC normalisation and stripping)
MAX_NAME_CHARS = 200
#: shortest password
MIN_PASSWORD_CHARS = 8
#: longest password (refused before it is hashed)
MAX_PASSWORD_CHARS = 1_024
#: longest note (grades, decisions, drawn lesions, adjudications); refused before it is stored
MAX_NOTE_CHARS = 10_000
#: longest file name stored for a photograph
MAX_FILE_NAME_CHARS = 255

#: model input pixels per batch on CPUs when no batch size is given (drcore.inference.default_batch_size): 8
#: photographs at 512 px, 3 at 768 px, 1 at 1280 px, four times that on CUDA. A heatmap's backward pass keeps
#: about 2.4 GB of activations per 1280 px photograph, so 8 of them would need some 19 GB
BATCH_INPUT_PIXELS = 8 * 512 * 512
