// Saving a canvas as a PNG file through the browser's download (the page and <janus-image>).

/** Encodes `canvas` as PNG and offers it as `filename`. */
export function saveCanvasAsPng(canvas: HTMLCanvasElement, filename: string): void {
  canvas.toBlob((blob) => {
    if (blob === null) return;
    const link = document.createElement('a');
    link.href = URL.createObjectURL(blob);
    link.download = filename;
    link.click();
    // After the download has started; revoking at once can cancel it in some browsers.
    setTimeout(() => URL.revokeObjectURL(link.href), 10_000);
  }, 'image/png');
}
