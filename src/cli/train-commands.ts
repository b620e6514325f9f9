// `inspector train` and `inspector pretrain-teacher`: thin front ends to the Python trainer.
// Options are declared once here and passed through by name; the trainer validates their values.
import { Command, Option } from "commander";

import { ProgressView } from "../training/progress-view.js";
import { runTrainer, type TrainerEvent } from "../training/trainer-process.js";
import { UserError } from "../errors/user-error.js";

interface PassThrough {
  flag: string; // commander flag syntax
  help: string;
  defaultValue?: string;
  repeatable?: boolean;
  boolean?: boolean;
}

function addPassThrough(command: Command, options: PassThrough[]): void {
  for (const spec of options) {
    const option = new Option(spec.flag, spec.help);
    if (spec.defaultValue !== undefined) option.default(spec.defaultValue);
    if (spec.repeatable) option.argParser((value: string, previous: string[] = []) => [...previous, value]);
    command.addOption(option);
  }
}

function toTrainerArgs(options: Record<string, unknown>, specs: PassThrough[]): string[] {
  const args: string[] = [];
  for (const spec of specs) {
    const long = /--([a-z0-9-]+)/.exec(spec.flag)![1];
    const key = long.replace(/-([a-z])/g, (_, c: string) => c.toUpperCase());
    const value = options[key];
    if (value === undefined || value === false) continue;
    if (value === true) args.push(`--${long}`);
    else if (Array.isArray(value)) for (const v of value) args.push(`--${long}`, String(v));
    else args.push(`--${long}`, String(value));
  }
  return args;
}

async function runWithProgress(subcommand: string, args: string[]): Promise<TrainerEvent> {
  const view = new ProgressView();
  const result = await runTrainer([subcommand, ...args], (event) => view.handle(event));
  view.stop();
  if (result.exitCode === 130) { // Ctrl-C forwarded by us, or a signal sent to the trainer directly
    throw new UserError("stopped at the last checkpoint; run the same command again to resume.", 130);
  }
  if (result.error) throw new UserError(result.error.message, result.exitCode === 0 ? 1 : result.exitCode);
  if (result.exitCode !== 0 || !result.done) throw new UserError(`the trainer ended without finishing (exit ${result.exitCode}).`);
  return result.done;
}

const TRAIN_OPTIONS: PassThrough[] = [
  { flag: "--good <dir>", help: "folder of good images, or an MVTec category folder (uses train/good)" },
  { flag: "--out <dir>", help: "bundle folder to write, e.g. models/NAME" },
  { flag: "--teachers <dir>", help: "folder holding teacher_p<P>.pt", defaultValue: "models/teachers" },
  // The defaults train in under 30 minutes on a 2-core CPU for ~600 images (docs/RESULTS.md); the
  // paper's recipe is --scales 17,33,65 --epochs 100 --size 256 --mode dense (docs/training.md).
  { flag: "--scales <list>", help: "patch sizes, from 17,33,65", defaultValue: "33" },
  { flag: "--students <n>", help: "students per scale", defaultValue: "3" },
  { flag: "--epochs <n>", help: "passes over the good images", defaultValue: "6" },
  { flag: "--size <px>", help: "model input side; images are resized to it", defaultValue: "128" },
  { flag: "--mode <mode>", help: "exported evaluation: dense (a score per pixel) or strided (cheaper, upsampled)",
    defaultValue: "strided" },
  { flag: "--batch <n>", help: "images per step", defaultValue: "1" },
  { flag: "--crop <px>", help: "train on a random crop×crop window of each image per step (0 = whole image)", defaultValue: "0" },
  { flag: "--lr <rate>", help: "Adam learning rate", defaultValue: "1e-4" },
  { flag: "--weight-decay <w>", help: "Adam weight decay", defaultValue: "1e-5" },
  { flag: "--colour <mode>", help: "auto (gray when every image is grayscale), gray or rgb", defaultValue: "auto" },
  { flag: "--normalisation <kind>", help: "input normalisation in the graph: per-image (mean 0, std 1 per part) or imagenet",
    defaultValue: "per-image" },
  { flag: "--hard-fraction <f>", help: "students learn from this share of the worst-regressed positions per step (1 = all)",
    defaultValue: "0.1" },
  { flag: "--min-images <n>", help: "refuse folders with fewer good images", defaultValue: "4" },
  { flag: "--checkpoint-every <epochs>", help: "epochs between checkpoints", defaultValue: "1" },
  { flag: "--opset <n>", help: "ONNX opset of the export (10 or later)", defaultValue: "13" },
  { flag: "--seed <n>", help: "random seed", defaultValue: "0" },
  { flag: "--threads <n>", help: "PyTorch threads (0 = every core)", defaultValue: "0" },
  { flag: "--device <kind>", help: "auto (a CUDA GPU when PyTorch sees one, e.g. a Jetson's), cpu or cuda", defaultValue: "auto" },
  { flag: "--skip-corrupt", help: "skip unreadable images (named in a warning) instead of stopping", boolean: true },
];

const PRETRAIN_OPTIONS: PassThrough[] = [
  { flag: "--images <dir>", help: "folder of natural photographs, searched recursively (repeatable)", repeatable: true },
  { flag: "--image-list <file>", help: "text file of glob patterns, e.g. models/teachers/photos.txt" },
  { flag: "--out <dir>", help: "folder for teacher_p<P>.pt and run logs", defaultValue: "models/teachers" },
  { flag: "--scales <list>", help: "patch sizes, from 17,33,65", defaultValue: "17,33,65" },
  { flag: "--steps <n>", help: "iterations per scale in total (a resumed run counts earlier steps)", defaultValue: "50000" },
  { flag: "--batch <n>", help: "triplets per step", defaultValue: "64" },
  { flag: "--lr <rate>", help: "Adam learning rate", defaultValue: "2e-4" },
  { flag: "--weight-decay <w>", help: "Adam weight decay", defaultValue: "1e-5" },
  { flag: "--margin <m>", help: "triplet margin", defaultValue: "1" },
  { flag: "--lambda-m <w>", help: "weight of the triplet loss Lm", defaultValue: "1" },
  { flag: "--lambda-c <w>", help: "weight of the compactness loss Lc", defaultValue: "1" },
  { flag: "--lambda-k <w>", help: "weight of the distillation loss Lk (with --distill-from)", defaultValue: "1" },
  { flag: "--distill-from <file>", help: "the pretrained network of Lk: a local ResNet-18 state dict (torchvision keys), or the MobileNetV2 trunk from `inspector convert-mobilenet`; nothing is downloaded" },
  { flag: "--width <w>", help: "multiplier of the hidden layers' channels", defaultValue: "1" },
  { flag: "--descriptor-size <d>", help: "descriptor channels D", defaultValue: "128" },
  { flag: "--checkpoint-every <steps>", help: "steps between checkpoints", defaultValue: "50" },
  { flag: "--holdout-every <n>", help: "every n-th photo is held out for the quality check", defaultValue: "8" },
  { flag: "--eval-triplets <n>", help: "held-out triplets for the quality check", defaultValue: "512" },
  { flag: "--max-side <px>", help: "photos are downscaled to this longest side", defaultValue: "2048" },
  { flag: "--seed <n>", help: "random seed", defaultValue: "0" },
  { flag: "--threads <n>", help: "PyTorch threads (0 = every core)", defaultValue: "0" },
  { flag: "--device <kind>", help: "auto (a CUDA GPU when PyTorch sees one, e.g. a Jetson's), cpu or cuda", defaultValue: "auto" },
  { flag: "--skip-corrupt", help: "skip unreadable images instead of stopping", boolean: true },
];

const EXPORT_OPTIONS: PassThrough[] = [
  { flag: "--bundle <dir>", help: "a bundle trained on this machine (its training/ folder holds the weights); repeat to fuse the scales of several", repeatable: true },
  { flag: "--out <dir>", help: "the new bundle folder" },
  { flag: "--mode <mode>", help: "dense (a score per pixel) or strided (cheaper, upsampled)" },
  { flag: "--scales <list>", help: "a subset of the bundle's patch sizes (default: all)" },
  { flag: "--opset <n>", help: "ONNX opset (10 or later)", defaultValue: "13" },
];

const CONVERT_MOBILENET_OPTIONS: PassThrough[] = [
  { flag: "--tfjs <dir>", help: "the model as `node scripts/nsfwjs-mobilenet.mjs unpack DIR` writes it (model.json + weights.bin)" },
  { flag: "--out <file>", help: "the PyTorch file to write, for pretrain-teacher --distill-from" },
];

/** A command that checks its required options, runs one trainer subcommand and prints the folder it wrote. */
function trainerCommand(name: string, description: string, specs: PassThrough[],
  checkRequired: (options: Record<string, unknown>) => void): Command {
  const command = new Command(name).description(description);
  addPassThrough(command, specs);
  command.action(async (options: Record<string, unknown>) => {
    checkRequired(options);
    const done = await runWithProgress(name, toTrainerArgs(options, specs));
    process.stdout.write(`${String(done.path)}\n`);
  });
  return command;
}

export function exportCommand(): Command {
  return trainerCommand("export", "re-export trained bundles as dense or strided, with fewer scales, or fused into one, without retraining",
    EXPORT_OPTIONS, (options) => {
      for (const required of ["bundle", "out", "mode"]) {
        if (!options[required]) throw new UserError(`--${required} is required (see --help).`);
      }
    });
}

export function trainCommand(): Command {
  return trainerCommand("train", "train students on good parts and export a model bundle (ONNX + manifest.json)",
    TRAIN_OPTIONS, (options) => {
      if (!options.good) throw new UserError("--good DIR is required: a folder of images of good parts.");
      if (!options.out) throw new UserError("--out DIR is required: the bundle folder to write, e.g. models/NAME.");
    });
}

export function pretrainTeacherCommand(): Command {
  return trainerCommand("pretrain-teacher",
    "pre-train teacher networks on natural photographs (self-supervised, or distilled from ResNet-18 or MobileNetV2)",
    PRETRAIN_OPTIONS, (options) => {
      if (!options.images && !options.imageList) {
        throw new UserError("give --images DIR or --image-list FILE (e.g. models/teachers/photos.txt).");
      }
    });
}

export function convertMobilenetCommand(): Command {
  return trainerCommand("convert-mobilenet",
    "convert the ImageNet MobileNetV2 trunk shipped in nsfwjs (a devDependency) for pretrain-teacher --distill-from",
    CONVERT_MOBILENET_OPTIONS, (options) => {
      if (!options.tfjs) throw new UserError("--tfjs DIR is required: run `node scripts/nsfwjs-mobilenet.mjs unpack DIR` first.");
      if (!options.out) throw new UserError("--out FILE is required: where to write the converted trunk.");
    });
}
