// Image files on disk: listing a folder, reading one with a message that names it when it is bad.
import { existsSync, readdirSync, statSync } from "node:fs";
import path from "node:path";

import { UserError } from "../errors/user-error.js";
import { cv, type Mat } from "../native/opencv.js";

export const IMAGE_EXTENSIONS = new Set([".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp"]);

export function listImages(dir: string, what = "images"): string[] {
  let entries: string[];
  try {
    if (!statSync(dir).isDirectory()) throw new UserError(`${dir}: not a folder. Give a folder of ${what}.`);
    entries = readdirSync(dir);
  } catch (err) {
    if (err instanceof UserError) throw err;
    const code = (err as NodeJS.ErrnoException).code;
    throw new UserError(code === "ENOENT" ? `${dir}: no such folder. Give a folder of ${what}.`
      : `${dir}: cannot be read (${code}). Check its permissions.`);
  }
  return entries.filter((name) => IMAGE_EXTENSIONS.has(path.extname(name).toLowerCase()))
    .sort()
    .map((name) => path.join(dir, name));
}

export class ImageReadError extends Error {
  readonly code = "IMAGE_UNREADABLE";
}

/** An 8-bit BGR image; a corrupt or unreadable file raises ImageReadError naming it. */
export function readImage(file: string): Mat {
  let image: Mat;
  if (!existsSync(file)) throw new ImageReadError(`${file}: no such file.`);
  try {
    image = cv.imread(file, cv.IMREAD_COLOR);
  } catch (err) {
    throw new ImageReadError(`${file}: cannot be read as an image (${(err as Error).message ?? "unreadable"}).`);
  }
  if (image.empty || image.rows === 0) throw new ImageReadError(`${file}: cannot be read as an image (corrupt, truncated or not an image).`);
  return image;
}

export function readMask(file: string): Mat {
  let mask: Mat;
  try {
    mask = cv.imread(file, cv.IMREAD_GRAYSCALE);
  } catch (err) {
    throw new ImageReadError(`${file}: cannot be read as a mask (${(err as Error).message}).`);
  }
  if (mask.empty || mask.rows === 0) throw new ImageReadError(`${file}: cannot be read as a mask.`);
  return mask;
}
