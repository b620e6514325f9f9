// Parsers for command-line values: each rejects a bad value with a message saying what is allowed.
import { InvalidArgumentError } from "commander";

import { KNOWN_PROVIDERS, type ProviderName } from "../native/providers.js";
import type { Roi } from "../preprocess/preprocess.js";

export function numberIn(min: number, max: number, integer = false) {
  return (text: string): number => {
    const value = Number(text);
    if (text.trim() === "" || !Number.isFinite(value) || value < min || value > max || (integer && !Number.isInteger(value))) {
      throw new InvalidArgumentError(`${JSON.stringify(text)} is not ${integer ? "an integer" : "a number"} from ${min} to ${max}.`);
    }
    return value;
  };
}

export function providerList(text: string): ProviderName[] {
  const names = text.split(",").map((s) => s.trim()).filter(Boolean);
  const unknown = names.filter((n) => !(KNOWN_PROVIDERS as readonly string[]).includes(n));
  if (names.length === 0 || unknown.length > 0) {
    throw new InvalidArgumentError(`${JSON.stringify(text)}: providers are a comma-separated list from ${KNOWN_PROVIDERS.join(", ")}.`);
  }
  return names as ProviderName[];
}

export function roiOption(text: string): Roi {
  const parts = text.split(",").map((s) => Number(s.trim()));
  if (parts.length !== 4 || parts.some((v) => !Number.isInteger(v) || v < 0) || parts[2] < 1 || parts[3] < 1) {
    throw new InvalidArgumentError(`${JSON.stringify(text)}: give the ROI as x,y,width,height in pixels, e.g. 100,50,640,480.`);
  }
  return { x: parts[0], y: parts[1], width: parts[2], height: parts[3] };
}

export const PROVIDERS_HELP = `execution providers to try in order (${KNOWN_PROVIDERS.join(", ")})`;
