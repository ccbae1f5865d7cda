// Entry of the classic script resumable-widget.js (built as one IIFE): installs the widget on the
// page. Its asset base is the folder of the script's own URL (options.js reads document.currentScript
// while the script runs).
import { install } from './api.js';

install();
