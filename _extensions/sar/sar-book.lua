-- sar-book.lua: appendices of the SAR book in Typst.
-- The first appendix heading switches chapter numbering to letters (A, B, ...); the synthetic
-- "Appendices" divider Quarto inserts becomes an unnumbered part heading.
local started = false

local function is_typst_book()
  local fs = quarto.doc.file_metadata()
  return quarto.doc.is_format("typst") and fs ~= nil and fs.file ~= nil
end

local header_filter = {
  Header = function(el)
    if not is_typst_book() or el.level ~= 1 then
      return nil
    end
    local file = quarto.doc.file_metadata().file
    if file.bookItemType ~= "appendix" or started then
      return nil
    end
    started = true
    local switch = pandoc.RawBlock("typst", "#show: sar-appendices")
    if el.classes:includes("unnumbered") then
      return { switch, pandoc.RawBlock("typst", "#sar-part-heading[Appendices]") }
    end
    return { switch, el }
  end
}

return quarto.utils.combineFilters({
  quarto.utils.file_metadata_filter(),
  header_filter
})
