"""docs/images/frame_quality_proxy.png: five informative and five non-informative training frames of the
frame-quality proxy (Kvasir-SEG's first 40 frames, split_seed 0, 160 px).

    TUNEDEPTH_DATA_DIR=../shared/data .venv/bin/python benchmarks/frame_quality_figure.py
"""

from __future__ import annotations

from matplotlib.figure import Figure

from tunedepth.data.sources.frame_quality import load_colonoscopy_frame_quality


def main() -> None:
    data = load_colonoscopy_frame_quality(frames="kvasir_seg", root=None, image_size=160,
                                          non_informative_fraction=0.5, val_fraction=0.2, test_fraction=0.2,
                                          split_seed=0, max_frames=40)
    images, labels = data.train.images, data.train.labels.numpy()
    fig = Figure(figsize=(10, 4.6))
    for r, label in enumerate((0, 1)):
        for c, i in enumerate([i for i in range(len(labels)) if labels[i] == label][:5]):
            ax = fig.add_subplot(2, 5, r * 5 + c + 1)
            ax.imshow(images[i].permute(1, 2, 0).numpy())
            ax.set_xticks([])
            ax.set_yticks([])
            ax.set_title("informative" if label == 0 else "non-informative", fontsize=8)
    fig.tight_layout()
    fig.savefig("docs/images/frame_quality_proxy.png", dpi=80)


if __name__ == "__main__":
    main()
