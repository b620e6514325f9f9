// Loading a model bundle: manifest.json checked against its schema, its files against their
// sha256, and calibration.json against the bundle it was made for. Every mismatch names the file
// and the fix. (The ONNX graph's own input/output shapes are checked where the session is made.)
import { createHash } from "node:crypto";
import { existsSync, readFileSync } from "node:fs";
import path from "node:path";

import { describeSchemaProblems } from "../errors/schema-problems.js";
import { UserError } from "../errors/user-error.js";
import { CALIBRATION_FILE, calibrationSchema, type Calibration } from "./calibration-file.js";
import { BUNDLE_FORMAT, manifestSchema, SUPPORTED_FORMAT_VERSIONS, type Manifest } from "./manifest.js";

export const MANIFEST_FILE = "manifest.json";

export class BundleError extends UserError {}

export interface Bundle {
  dir: string;
  manifest: Manifest;
  /** sha256 of manifest.json, which lists the sha256 of every other file: names the whole bundle. */
  sha256: string;
  /** The first 12 hex digits of sha256, for logs and payloads. */
  id: string;
  modelPath: string;
  calibration?: Calibration;
  /** The first 12 hex digits of calibration.json's sha256: which calibration made a verdict. */
  calibrationId?: string;
}

export function sha256Hex(data: Buffer | string): string {
  return createHash("sha256").update(data).digest("hex");
}

function readJson(file: string, what: string): { value: unknown; text: string } {
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch (err) {
    throw new BundleError(`${file}: cannot read the ${what} (${(err as NodeJS.ErrnoException).code}).`);
  }
  try {
    return { value: JSON.parse(text) as unknown, text };
  } catch (err) {
    throw new BundleError(`${file}: the ${what} is not valid JSON (${(err as Error).message}). ` +
      `Restore it from the bundle's source, or re-export the bundle with \`inspector train\`.`);
  }
}

export function loadManifest(dir: string): { manifest: Manifest; sha256: string } {
  const file = path.join(dir, MANIFEST_FILE);
  if (!existsSync(dir)) throw new BundleError(`${dir}: no such bundle folder. Train one with \`inspector train --out ${dir}\`.`);
  if (!existsSync(file)) {
    throw new BundleError(`${file}: missing. A bundle folder holds manifest.json and model.onnx as written by \`inspector train\`.`);
  }
  const raw = readJson(file, "bundle manifest").value as { format?: unknown; format_version?: unknown };
  if (raw?.format !== BUNDLE_FORMAT) {
    throw new BundleError(`${file}: not an inspector bundle manifest (format is ${JSON.stringify(raw?.format)}, expected "${BUNDLE_FORMAT}").`);
  }
  if (!SUPPORTED_FORMAT_VERSIONS.includes(raw.format_version as number)) {
    throw new BundleError(`${file}: bundle format version ${String(raw.format_version)}; this inspector reads version ` +
      `${SUPPORTED_FORMAT_VERSIONS.join(", ")}. Re-export the bundle with this version's \`inspector train\`, or update inspector.`);
  }
  const parsed = manifestSchema.safeParse(raw);
  if (!parsed.success) {
    throw new BundleError(`${describeSchemaProblems(file, raw, parsed.error.issues, "a manifest from another version? see docs/training.md")}\n` +
      "Re-export the bundle with `inspector train`.");
  }
  return { manifest: parsed.data, sha256: sha256Hex(readFileSync(file)) };
}

function verifyFiles(dir: string, manifest: Manifest): void {
  if (!manifest.files["model.onnx"]) throw new BundleError(`${path.join(dir, MANIFEST_FILE)}: lists no model.onnx.`);
  for (const [name, expected] of Object.entries(manifest.files)) {
    const file = path.join(dir, name);
    if (path.relative(dir, file).startsWith("..")) throw new BundleError(`${path.join(dir, MANIFEST_FILE)}: file ${name} lies outside the bundle.`);
    if (!existsSync(file)) throw new BundleError(`${file}: missing (listed in manifest.json). Copy the whole bundle folder again.`);
    const actual = sha256Hex(readFileSync(file));
    if (actual !== expected) {
      throw new BundleError(`${file}: sha256 ${actual.slice(0, 12)}… does not match manifest.json (${expected.slice(0, 12)}…): ` +
        "the file is damaged or from another bundle. Copy the whole bundle folder again, or re-export it.");
    }
  }
}

/** The calibration and its id, both from one read: a file rewritten meanwhile cannot mix the two. */
export function loadCalibration(dir: string, bundleSha256: string): { calibration: Calibration; id: string } | undefined {
  const file = path.join(dir, CALIBRATION_FILE);
  if (!existsSync(file)) return undefined;
  const { value, text } = readJson(file, "calibration");
  const parsed = calibrationSchema.safeParse(value);
  if (!parsed.success) {
    throw new BundleError(`${describeSchemaProblems(file, value, parsed.error.issues, "see docs/calibration.md")}\n` +
      "Run `inspector calibrate` again.");
  }
  if (parsed.data.bundle_sha256 !== bundleSha256) {
    throw new BundleError(`${file}: made for another bundle (${parsed.data.bundle_sha256.slice(0, 12)}…, this one is ` +
      `${bundleSha256.slice(0, 12)}…). Run \`inspector calibrate --bundle ${dir}\` again.`);
  }
  return { calibration: parsed.data, id: sha256Hex(text).slice(0, 12) };
}

export interface LoadOptions {
  /** Refuse a bundle without calibration.json (the daemon and `infer` need one; calibrate and eval do not). */
  requireCalibration: boolean;
}

export function loadBundle(dir: string, options: LoadOptions): Bundle {
  const { manifest, sha256 } = loadManifest(dir);
  verifyFiles(dir, manifest);
  const loaded = loadCalibration(dir, sha256);
  const calibration = loaded?.calibration;
  if (options.requireCalibration && !calibration) {
    throw new BundleError(`${path.join(dir, CALIBRATION_FILE)}: missing: this bundle is not calibrated. ` +
      `Run \`inspector calibrate --bundle ${dir} --good DIR\` on images of good parts first.`);
  }
  if (calibration) {
    for (const scale of manifest.scales) {
      if (!calibration.scales[String(scale.patch_size)]) {
        throw new BundleError(`${path.join(dir, CALIBRATION_FILE)}: has no statistics for p=${scale.patch_size}. Run \`inspector calibrate\` again.`);
      }
    }
  }
  return { dir, manifest, sha256, id: sha256.slice(0, 12), modelPath: path.join(dir, "model.onnx"), calibration, calibrationId: loaded?.id };
}
