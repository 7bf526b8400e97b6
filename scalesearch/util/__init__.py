"""Small helpers every package may use: text formatting (`text`), validators of named values (`checks`), bounded
reads of user files and the rule of where outputs may be written (`files`). They import nothing of scalesearch but
`errors`."""
