// Images attached to the next message: a file picker, a downscaled copy of each image (at most
// 1024 px on its longer side, as JPEG, so a message stays well under the 1 MB frame limit),
// thumbnails with a remove button. Offered while every picked model takes images (its catalog
// entry's `capabilities.images`); the server refuses the others by name anyway.

import { h } from "./dom.js";

export const MAX_IMAGES = 4;
const MAX_SIDE = 1024;
const QUALITY = 0.85;

export class Attachments {
  constructor({ input, button, list, announce, onChange = () => {} }) {
    this.onChange = onChange;
    this.input = input;
    this.button = button;
    this.list = list;
    this.announce = announce;
    this.urls = [];
    this.allowed = true;
    button.addEventListener("click", () => input.click());
    input.addEventListener("change", () => this.add([...input.files]).finally(() => { input.value = ""; }));
  }

  /** Offer the button only while the picked models take images; say why when they do not. */
  setAllowed(allowed) {
    this.allowed = allowed;
    this.button.disabled = !allowed;
    this.button.title = allowed ? "Attach an image" : "The picked models do not take images";
    this.render();
  }

  async add(files) {
    for (const file of files) {
      if (this.urls.length >= MAX_IMAGES) {
        this.announce(`At most ${MAX_IMAGES} images per message.`);
        break;
      }
      try {
        this.urls.push(await downscaled(file));
      } catch {
        this.announce(`${file.name} could not be read as an image.`);
      }
    }
    this.render();
  }

  clear() {
    this.urls = [];
    this.render();
  }

  render() {
    this.onChange(this.urls);
    this.list.hidden = !this.urls.length;
    this.list.replaceChildren(...this.urls.map((url, i) => h("figure.attachment", {},
      h("img", { src: url, alt: `Attached image ${i + 1}` }),
      h("button.ghost.small", {
        type: "button",
        text: "×",
        "aria-label": `Remove image ${i + 1}`,
        onclick: () => { this.urls.splice(i, 1); this.render(); },
      }))));
    if (this.urls.length && !this.allowed) {
      this.list.append(h("p.attach-note", { text: "The picked models do not take images: remove them or pick a model that does." }));
    }
  }
}

/** The image as a JPEG data URL, scaled down to fit MAX_SIDE (never up). */
async function downscaled(file) {
  const bitmap = await createImageBitmap(file);
  const scale = Math.min(1, MAX_SIDE / Math.max(bitmap.width, bitmap.height));
  const canvas = document.createElement("canvas");
  canvas.width = Math.max(1, Math.round(bitmap.width * scale));
  canvas.height = Math.max(1, Math.round(bitmap.height * scale));
  const ctx = canvas.getContext("2d");
  ctx.fillStyle = "#fff"; // a transparent PNG becomes JPEG on white, not black
  ctx.fillRect(0, 0, canvas.width, canvas.height);
  ctx.drawImage(bitmap, 0, 0, canvas.width, canvas.height);
  bitmap.close();
  return canvas.toDataURL("image/jpeg", QUALITY);
}
