// Dropped files and folders: turns a drop into [{file, relativePath}], walking into folders.
// Contract: filesFromDrop(dataTransfer) must be called during the drop event (entries are only
// readable then) and resolves later; attachDropTarget(element, onFiles, activeClass) returns a
// function that detaches it again.

// Resolves to [{file, relativePath}] for everything dropped, walking into folders.
export function filesFromDrop(dataTransfer) {
  var items = dataTransfer.items;
  var entries = [];
  if (items && items.length && typeof items[0].webkitGetAsEntry === 'function') {
    // Entries must be taken during the drop event itself; reading them may happen later.
    for (var i = 0; i < items.length; i++) {
      var entry = items[i].kind === 'file' ? items[i].webkitGetAsEntry() : null;
      if (entry) entries.push(entry);
    }
  }
  if (entries.length === 0) {
    return Promise.resolve(Array.prototype.map.call(dataTransfer.files || [], function (file) {
      return { file: file, relativePath: null };
    }));
  }
  return Promise.all(entries.map(function (entry) { return filesFromEntry(entry, ''); })).then(flatten);
}

function filesFromEntry(entry, path) {
  if (entry.isFile) {
    return new Promise(function (resolve, reject) {
      entry.file(function (file) { resolve([{ file: file, relativePath: path + file.name }]); }, reject);
    });
  }
  var reader = entry.createReader();
  var children = [];
  // readEntries returns at most 100 entries per call: read until it returns none.
  return new Promise(function readMore(resolve, reject) {
    reader.readEntries(function (batch) {
      if (batch.length === 0) { resolve(children); return; }
      children = children.concat(batch);
      readMore(resolve, reject);
    }, reject);
  }).then(function (found) {
    return Promise.all(found.map(function (child) { return filesFromEntry(child, path + entry.name + '/'); }));
  }).then(flatten);
}

function flatten(lists) { return [].concat.apply([], lists); }

function acceptsDrag(event) {
  var types = event.dataTransfer && event.dataTransfer.types;
  return !!types && Array.prototype.indexOf.call(types, 'Files') >= 0;
}

// Makes `element` a drop target that hands dropped files (folders walked) to `onFiles`.
export function attachDropTarget(element, onFiles, activeClass) {
  var depth = 0;
  function over(event) {
    if (!acceptsDrag(event)) return;
    event.preventDefault();
    event.dataTransfer.dropEffect = 'copy';
  }
  function enter(event) {
    if (!acceptsDrag(event)) return;
    event.preventDefault();
    if (depth++ === 0 && activeClass) element.classList.add(activeClass);
  }
  function leave() {
    if (depth > 0 && --depth === 0 && activeClass) element.classList.remove(activeClass);
  }
  function drop(event) {
    if (!acceptsDrag(event)) return;
    event.preventDefault();
    depth = 0;
    if (activeClass) element.classList.remove(activeClass);
    filesFromDrop(event.dataTransfer).then(function (files) { onFiles(files, event); });
  }
  element.addEventListener('dragover', over);
  element.addEventListener('dragenter', enter);
  element.addEventListener('dragleave', leave);
  element.addEventListener('drop', drop);
  return function detach() {
    element.removeEventListener('dragover', over);
    element.removeEventListener('dragenter', enter);
    element.removeEventListener('dragleave', leave);
    element.removeEventListener('drop', drop);
  };
}
