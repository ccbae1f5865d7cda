// The power-loss model behind power_loss.test.mjs: reads the journal that tests/support/power_loss_shim.c
// writes, replays it over a snapshot of the directory taken when the process started, and builds the
// directory as a power loss at the end of the journal leaves it.
//
// The model (per inode, as POSIX promises and no more):
//   - a file's bytes and size are durable as of its last fsync or fdatasync (both persist the data
//     and the size: the size is metadata needed to read the data back);
//   - a directory's entries (create, mkdir, rename, unlink, rmdir) are durable as of the last fsync
//     of that directory; an fsync of a file does not make its name durable; a rename between two
//     directories is atomic across the crash (both halves or neither, as journaling Linux file
//     systems commit it) and durable once either directory is synced after it;
//   - O_DIRECT writes are like any other write (the device's cache may still lose them);
//   - sync/syncfs make everything durable.
// Two ways of losing the rest:
//   - 'strict': nothing that was not synced survives (the image is exactly the synced state);
//   - 'torn': on top of the synced state, some un-synced changes survive: each un-synced write
//     survives or not per 4 KiB block, a lost block past the end may still extend the file with
//     zeros (size written before data, as ext4 data=writeback or XFS can leave it), size changes
//     survive or not, and each directory keeps a random prefix of its un-synced entry changes
//     (a rename kept by one of its directories is kept by both).
// Both are permitted outcomes of a power loss on a POSIX file system; 'strict' is what the store
// must survive with nothing but its syncs, 'torn' adds the partial states real file systems leave
// (e.g. ext4 in its default data=ordered mode can lose an un-synced rename, or commit a log record
// whose data block is still unwritten).
import { readFileSync, readdirSync, lstatSync, mkdirSync, writeFileSync, linkSync } from 'node:fs';
import { join } from 'node:path';

const BLOCK = 4096;
const FALLOC_KEEP_SIZE = 0x01;
const FALLOC_PUNCH_HOLE = 0x02;
const FALLOC_ZERO_RANGE = 0x10;

export const RECORD = {
  1: 'start', 2: 'create', 3: 'mkdir', 4: 'write', 5: 'size', 6: 'falloc', 7: 'sync', 8: 'rename', 9: 'unlink',
  10: 'rmdir', 11: 'sync_all', 12: 'unsupported',
};

// ---- the journal -------------------------------------------------------------------------------

function fnv1a(buffer, start, end) {
  let hash = 2166136261;
  for (let i = start; i < end; i++) {
    hash ^= buffer[i];
    hash = Math.imul(hash, 16777619) >>> 0;
  }
  return hash >>> 0;
}

// Records in order; a torn last record (the process died while appending it) ends the list.
export function readJournal(path) {
  const bytes = readFileSync(path);
  const records = [];
  let at = 0;
  let torn = false;
  while (at < bytes.length) {
    if (at + 4 > bytes.length) { torn = true; break; }
    const length = bytes.readUInt32LE(at);
    if (length < 1 || at + 4 + length + 4 > bytes.length) { torn = true; break; }
    const start = at + 4;
    const end = start + length;
    if (fnv1a(bytes, start, end) !== bytes.readUInt32LE(end)) { torn = true; break; }
    let p = start;
    const u8 = () => bytes[p++];
    const u32 = () => { const v = bytes.readUInt32LE(p); p += 4; return v; };
    const u64 = () => { const v = bytes.readBigUInt64LE(p); p += 8; return v; };
    const name = () => { const n = u8(); const s = bytes.toString('utf8', p, p + n); p += n; return s; };
    const type = RECORD[u8()];
    let r;
    switch (type) {
      case 'start': r = { root: u64(), pid: u32() }; break;
      case 'create': case 'mkdir': r = { id: u64(), parent: u64(), name: name() }; break;
      case 'write': { const id = u64(); const offset = Number(u64()); const n = u32(); r = { id, offset, data: bytes.subarray(p, p + n) }; p += n; break; }
      case 'size': r = { id: u64(), size: Number(u64()) }; break;
      case 'falloc': r = { id: u64(), mode: u32(), offset: Number(u64()), length: Number(u64()) }; break;
      case 'sync': r = { id: u64(), dataOnly: u8() === 1 }; break;
      case 'rename': r = { fromDir: u64(), from: name(), toDir: u64(), to: name() }; break;
      case 'unlink': case 'rmdir': r = { parent: u64(), name: name() }; break;
      case 'sync_all': r = {}; break;
      case 'unsupported': r = { what: name() }; break;
      default: throw new Error(`journal ${path}: unknown record type at ${at}`);
    }
    records.push({ type, ...r });
    at = end + 4;
  }
  return { records, torn, bytes: bytes.length };
}

// ---- file contents -----------------------------------------------------------------------------

class Content {
  constructor(buffer = Buffer.alloc(0), size = buffer.length) {
    this.buf = buffer;
    this.size = size;
  }

  clone() { return new Content(Buffer.from(this.buf.subarray(0, this.size)), this.size); }

  reserve(size) {
    if (size <= this.buf.length) return;
    const grown = Buffer.alloc(Math.max(size, Math.min(this.buf.length * 2, size + 64 * 1048576)));
    this.buf.copy(grown, 0, 0, this.size);
    this.buf = grown;
  }

  resize(size) {
    if (size > this.size) {
      this.reserve(size);
      this.buf.fill(0, this.size, size);
    }
    this.size = size;
  }

  write(offset, data) {
    if (offset > this.size) this.resize(offset);
    this.reserve(offset + data.length);
    data.copy(this.buf, offset);
    this.size = Math.max(this.size, offset + data.length);
  }

  zero(offset, length) {
    const end = Math.min(this.size, offset + length);
    if (end > offset) this.buf.fill(0, offset, end);
  }

  bytes() { return this.buf.subarray(0, this.size); }
}

function applyFileOp(content, op) {
  switch (op.type) {
    case 'write': content.write(op.offset, op.data); break;
    case 'size': content.resize(op.size); break;
    case 'falloc': {
      if (op.mode & ~(FALLOC_KEEP_SIZE | FALLOC_PUNCH_HOLE | FALLOC_ZERO_RANGE)) {
        throw new Error(`fallocate mode ${op.mode} is not modelled`);
      }
      if (op.mode & (FALLOC_PUNCH_HOLE | FALLOC_ZERO_RANGE)) content.zero(op.offset, op.length);
      if (!(op.mode & FALLOC_KEEP_SIZE) && op.offset + op.length > content.size) content.resize(op.offset + op.length);
      break;
    }
    default: throw new Error(`not a file operation: ${op.type}`);
  }
}

function applyDirOp(entries, op) {
  if (op.set) entries.set(op.set[0], op.set[1]);
  if (op.del !== undefined) entries.delete(op.del);
  if (op.ren) { entries.delete(op.ren[0]); entries.set(op.ren[1], op.ren[2]); }
}

// ---- the model ---------------------------------------------------------------------------------

// A directory: its entries now (`cur`), when the snapshot was taken or it was made (`base`), the
// entry changes that touch it (indices into the model's global list) and how many of that list's
// changes its last fsync covers.
function newDir() { return { kind: 'dir', cur: new Map(), base: new Map(), ops: [], synced: 0 }; }

// The tree below `root` as the process found it: everything in it counts as durable. Inode ids are
// the inode numbers (the shim names inodes that existed at its start so).
export function snapshotTree(root) {
  const inodes = new Map();
  const visit = (path) => {
    const info = lstatSync(path, { bigint: true });
    const id = info.ino;
    if (inodes.has(id)) return id;
    if (info.isDirectory()) {
      const node = newDir();
      inodes.set(id, node);
      for (const name of readdirSync(path)) node.cur.set(name, visit(join(path, name)));
      node.base = new Map(node.cur);
    } else if (info.isFile()) {
      const data = readFileSync(path);
      inodes.set(id, { kind: 'file', cur: new Content(Buffer.from(data)), dur: new Content(Buffer.from(data)), pending: [] });
    } else {
      throw new Error(`${path}: only files and directories are modelled`);
    }
    return id;
  };
  const rootId = visit(root);
  return { rootId, inodes };
}

export class PowerModel {
  constructor(snapshot) {
    this.rootId = snapshot.rootId;
    this.inodes = snapshot.inodes;
    this.counts = {};
    this.dirOps = [];  // every entry change, in order: [{dir, op}, ...]
    this.last = null;  // the last record applied: where the power failed
  }

  node(id, kind) {
    const node = this.inodes.get(id);
    if (!node) throw new Error(`journal names inode ${id}, which the model does not know`);
    if (kind && node.kind !== kind) throw new Error(`inode ${id} is a ${node.kind}, not a ${kind}`);
    return node;
  }

  // One entry change, in one directory or (a rename between directories) in two at once: a rename
  // is atomic across a crash (both halves or neither), as every journaling Linux file system makes it.
  dirOp(...halves) {
    const k = this.dirOps.length;
    this.dirOps.push(halves);
    for (const half of halves) {
      const node = this.node(half.dir, 'dir');
      applyDirOp(node.cur, half.op);
      if (node.ops[node.ops.length - 1] !== k) node.ops.push(k);
    }
  }

  fileOp(id, op) {
    const node = this.node(id, 'file');
    applyFileOp(node.cur, op);
    node.pending.push(op);
  }

  sync(node) {
    if (node.kind === 'dir') {
      node.synced = this.dirOps.length;
    } else {
      for (const op of node.pending) applyFileOp(node.dur, op);
      node.pending = [];
    }
  }

  apply(records) {
    for (const r of records) {
      this.counts[r.type] = (this.counts[r.type] ?? 0) + 1;
      this.last = r;
      switch (r.type) {
        case 'start':
          if (this.pid !== undefined && this.pid !== r.pid) throw new Error('the journal was written by more than one process');
          this.pid = r.pid;
          if (r.root !== this.rootId) throw new Error(`journal root ${r.root} is not the snapshot's ${this.rootId}`);
          break;
        case 'create':
          this.inodes.set(r.id, { kind: 'file', cur: new Content(), dur: new Content(), pending: [] });
          this.dirOp({ dir: r.parent, op: { set: [r.name, r.id] } });
          break;
        case 'mkdir':
          this.inodes.set(r.id, newDir());
          this.dirOp({ dir: r.parent, op: { set: [r.name, r.id] } });
          break;
        case 'write': case 'size': case 'falloc':
          this.fileOp(r.id, r);
          break;
        case 'sync':
          this.sync(this.node(r.id));
          break;
        case 'sync_all':
          for (const node of this.inodes.values()) this.sync(node);
          break;
        case 'rename': {
          const from = this.node(r.fromDir, 'dir');
          const id = from.cur.get(r.from);
          if (id === undefined) throw new Error(`rename of ${r.from}, which the model does not have`);
          if (r.toDir === 0n) { this.dirOp({ dir: r.fromDir, op: { del: r.from } }); break; }
          const to = this.node(r.toDir, 'dir');
          if (to.cur.get(r.to) === id) break;  // two names of one inode: rename does nothing (POSIX)
          if (r.fromDir === r.toDir) this.dirOp({ dir: r.fromDir, op: { ren: [r.from, r.to, id] } });
          else this.dirOp({ dir: r.fromDir, op: { del: r.from } }, { dir: r.toDir, op: { set: [r.to, id] } });
          break;
        }
        case 'unlink': case 'rmdir':
          if (!this.node(r.parent, 'dir').cur.has(r.name)) throw new Error(`${r.type} of ${r.name}, which the model does not have`);
          this.dirOp({ dir: r.parent, op: { del: r.name } });
          break;
        case 'unsupported':
          throw new Error(`the process did something the power-loss model does not cover: ${r.what}`);
        default:
          throw new Error(`unknown record ${r.type}`);
      }
    }
  }

  // The tree as a power loss leaves it: {kind:'dir', entries: Map(name -> node)} / {kind:'file', id, content}.
  // Files reached by several names are one object (hard links).
  image(mode, random) {
    const files = new Map();
    const dirs = new Set();
    const fileAfterLoss = (id, node) => {
      if (files.has(id)) return files.get(id);
      let content;
      if (mode === 'strict' || node.pending.length === 0) {
        content = node.dur.clone();
      } else {
        content = node.dur.clone();
        for (const op of node.pending) {
          if (op.type !== 'write') {
            if (random() < 0.5) applyFileOp(content, op);
            continue;
          }
          // Block by block, as write-back leaves it.
          let at = 0;
          while (at < op.data.length) {
            const offset = op.offset + at;
            const n = Math.min(op.data.length - at, BLOCK - (offset % BLOCK));
            const p = random();
            if (p < 0.5) content.write(offset, op.data.subarray(at, at + n));
            else if (p < 0.75 && offset + n > content.size) content.resize(offset + n);  // size without data: zeros
            at += n;
          }
        }
      }
      const file = { kind: 'file', id, content };
      files.set(id, file);
      return file;
    };
    // Entry changes up to `cut` of a directory survive: its last fsync, or in 'torn' a random
    // later point. A rename between directories survives in both when it survives in either.
    const cuts = new Map();
    const cutOf = (id) => {
      if (!cuts.has(id)) {
        const node = this.node(id, 'dir');
        const later = node.ops.filter((k) => k >= node.synced);
        let cut = node.synced;
        if (mode === 'torn' && later.length > 0) {
          const keep = Math.floor(random() * (later.length + 1));
          if (keep > 0) cut = later[keep - 1] + 1;
        }
        cuts.set(id, cut);
      }
      return cuts.get(id);
    };
    const survives = (k) => this.dirOps[k].some((half) => k < cutOf(half.dir));
    const dirAfterLoss = (id) => {
      if (dirs.has(id)) throw new Error(`directory ${id} is reachable twice after the power loss`);
      dirs.add(id);
      const node = this.node(id, 'dir');
      const entries = new Map(node.base);
      for (const k of node.ops) {
        if (!survives(k)) continue;
        for (const half of this.dirOps[k]) if (half.dir === id) applyDirOp(entries, half.op);
      }
      const out = new Map();
      for (const [name, child] of [...entries].sort(([a], [b]) => (a < b ? -1 : 1))) {
        const childNode = this.node(child);
        out.set(name, childNode.kind === 'dir' ? dirAfterLoss(child) : fileAfterLoss(child, childNode));
      }
      return { kind: 'dir', id, entries: out };
    };
    return dirAfterLoss(this.rootId);
  }

  // The tree the process saw last (every change, synced or not): must equal the real directory.
  current() {
    const walk = (id) => {
      const node = this.node(id);
      if (node.kind === 'file') return { kind: 'file', id, content: node.cur };
      const out = new Map();
      for (const [name, child] of node.cur) out.set(name, walk(child));
      return { kind: 'dir', id, entries: out };
    };
    return walk(this.rootId);
  }
}

// Writes an image below `target` (which must not exist). Hard links stay hard links.
export function writeImage(image, target) {
  const written = new Map();
  const write = (node, path) => {
    if (node.kind === 'dir') {
      mkdirSync(path);
      for (const [name, child] of node.entries) write(child, join(path, name));
    } else if (written.has(node.id)) {
      linkSync(written.get(node.id), path);
    } else {
      writeFileSync(path, node.content.bytes());
      written.set(node.id, path);
    }
  };
  write(image, target);
}

// Differences between a modelled tree and a real directory (names, kinds, bytes, hard links).
export function compareWithDisk(image, root) {
  const differences = [];
  const inoOf = new Map();
  const walk = (node, path, rel) => {
    let info;
    try { info = lstatSync(path, { bigint: true }); } catch { differences.push(`${rel}: missing on disk`); return; }
    if (node.kind === 'dir') {
      if (!info.isDirectory()) { differences.push(`${rel}: not a directory on disk`); return; }
      const onDisk = readdirSync(path).sort();
      const modelled = [...node.entries.keys()].sort();
      for (const name of onDisk) if (!node.entries.has(name)) differences.push(`${rel}/${name}: on disk, not in the model`);
      for (const name of modelled) walk(node.entries.get(name), join(path, name), `${rel}/${name}`);
      return;
    }
    if (!info.isFile()) { differences.push(`${rel}: not a file on disk`); return; }
    if (inoOf.has(node.id) && inoOf.get(node.id) !== info.ino) differences.push(`${rel}: should be a hard link`);
    inoOf.set(node.id, info.ino);
    const bytes = readFileSync(path);
    if (!bytes.equals(node.content.bytes())) differences.push(`${rel}: ${bytes.length} bytes on disk, ${node.content.size} modelled, contents differ`);
  };
  walk(image, root, '.');
  return differences;
}

// Finds a node by a relative path ("chunks/<id>/pieces.log") in an image.
export function imageLookup(image, rel) {
  let node = image;
  for (const part of rel.split('/').filter(Boolean)) {
    if (node?.kind !== 'dir') return undefined;
    node = node.entries.get(part);
  }
  return node;
}
