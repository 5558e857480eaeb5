"""Reference for the DFF visualisation test: pytorch-grad-cam 1.5.7's
`show_factorization_on_image(rgb / 255, explanations, image_weight=0.3)` (no legend) on the
ResNet-18 fixture's first image and upstream's 4 concept maps for it.

Run from this folder with numpy, opencv-python-headless and matplotlib installed:
    python3 make_fixtures.py ../../../../shared/fixtures
(upstream calls `plt.cm.get_cmap`, gone from matplotlib >= 3.9; the colours are taken the
same way with `matplotlib.colormaps`.)
"""
import sys, json
import numpy as np, cv2, matplotlib

fixtures = sys.argv[1]
rgb = np.load(f"{fixtures}/torch/resnet18/rgb224_uint8.npy")[0]
explanations = np.load(f"{fixtures}/dff/resnet18/batch_explanations.npy")[0].copy()
cmap = matplotlib.colormaps["gist_rainbow"]
n = explanations.shape[0]
colors = [np.array(cmap(i)) for i in np.arange(0, 1, 1.0 / n)]
img = rgb / 255
concept_per_pixel = explanations.argmax(axis=0)
masks = []
for i in range(n):
    mask = np.zeros(shape=(img.shape[0], img.shape[1], 3))
    mask[:, :, :] = colors[i][:3]
    explanation = explanations[i]
    explanation[concept_per_pixel != i] = 0
    mask = np.uint8(mask * 255)
    mask = cv2.cvtColor(mask, cv2.COLOR_RGB2HSV)
    mask[:, :, 2] = np.uint8(255 * explanation)
    mask = cv2.cvtColor(mask, cv2.COLOR_HSV2RGB)
    mask = np.float32(mask) / 255
    masks.append(mask)
mask = np.sum(np.float32(masks), axis=0)
result = img * 0.3 + mask * (1 - 0.3)
np.save("factorization_overlay.npy", np.uint8(result * 255))

# Every colour of gist_rainbow at i/n (n = 1…12) through RGB2HSV, then HSV2RGB at every V.
table = []
for n in range(1, 13):
    for c in [np.array(cmap(i)) for i in np.arange(0, 1, 1.0 / n)]:
        px = np.zeros((1, 256, 3))
        px[:, :, :] = c[:3]
        px = cv2.cvtColor(np.uint8(px * 255), cv2.COLOR_RGB2HSV)
        px[0, :, 2] = np.arange(256)
        table.append(cv2.cvtColor(px, cv2.COLOR_HSV2RGB)[0])
np.save("hsv_value_ramps.npy", np.array(table, dtype=np.uint8))
json.dump({"numpy": np.__version__, "opencv": cv2.__version__, "matplotlib": matplotlib.__version__}, open("versions.json", "w"), indent=1)
